//! Per-access-key rate limits: a token bucket per key, refilled at `per_second` up to `burst`.
//! A request that finds its key's bucket empty is refused with `request.rate_limited` and told
//! when a token will be there (`Retry-After`). Buckets live in this process: each API node
//! limits what it serves.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How fast one access key may call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (0 turns limiting off).
    pub per_second: f64,
    /// How many may come at once after a quiet spell.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { per_second: 100.0, burst: 200 }
    }
}

/// The buckets of every key seen.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    refused: std::sync::atomic::AtomicU64,
}

/// Keys idle this long are forgotten (their bucket would be full anyway).
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl RateLimiter {
    /// Buckets for `limit`.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter { limit, buckets: Mutex::default(), refused: Default::default() }
    }

    /// Takes a token for `key` at `now`, or says how long until one is there.
    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.limit.per_second <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, at)| now.saturating_duration_since(*at) < FORGET_AFTER);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        let refilled = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.limit.per_second).min(burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(Duration::from_secs_f64((1.0 - refilled) / self.limit.per_second))
        }
    }

    /// Takes a token for `key` now.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// How many requests were refused.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate_per_key() {
        let limiter = RateLimiter::new(RateLimit { per_second: 10.0, burst: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at("ak1", t0), Ok(()));
        }
        let wait = limiter.check_at("ak1", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert_eq!(limiter.check_at("ak2", t0), Ok(()), "another key has its own bucket");
        assert_eq!(limiter.check_at("ak1", t0 + Duration::from_millis(100)), Ok(()), "refilled at 10/s");
        assert!(limiter.check_at("ak1", t0 + Duration::from_millis(150)).is_err());
        assert_eq!(limiter.check_at("ak1", t0 + Duration::from_secs(60)), Ok(()), "never above the burst…");
        assert_eq!(limiter.check_at("ak1", t0 + Duration::from_secs(60)), Ok(()));
        assert_eq!(limiter.check_at("ak1", t0 + Duration::from_secs(60)), Ok(()));
        assert!(limiter.check_at("ak1", t0 + Duration::from_secs(60)).is_err(), "…however long it waited");
        assert_eq!(limiter.refused(), 3);
        let off = RateLimiter::new(RateLimit { per_second: 0.0, burst: 0 });
        assert!((0..10_000).all(|_| off.check_at("ak", t0).is_ok()));
    }
}
