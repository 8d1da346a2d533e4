//! The callback dispatcher: delivers the events in the store's outbox (see
//! `cloudphone_store::events`) to each tenant's callback URL.
//!
//! - Each delivery is a POST of the event's stored JSON, signed with the tenant's callback secret
//!   ([`cloudphone_protocol::callback::sign`]); a 2xx answer delivers it.
//! - Anything else is retried with exponential backoff (1 s doubling to an hour, with jitter)
//!   for [`RETRY_WINDOW_MS`], then given up. Every attempt is logged in the store.
//! - Deliveries run in lanes, one per phone: a lane's next delivery waits until the one before
//!   it is delivered or given up, so a receiver sees a phone's events in order.
//! - It is woken by the store when this process writes to the outbox, and otherwise sleeps until
//!   the next retry is due.
//! - All state is in the store, so deliveries survive restarts: an attempt cut off by a crash
//!   is made again (delivery is at least once; receivers deduplicate on the event id).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudphone_protocol::callback::{
    DELIVERY_ID_HEADER, EVENT_ID_HEADER, RETRY_WINDOW_MS, SIGNATURE_HEADER, retry_delay_ms, sign,
};
use cloudphone_store::events::AttemptOutcome;
use cloudphone_store::{DeliveryAttempt, DeliveryRow, Store, StoreError, now_millis};
use tokio::sync::Notify;

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many deliveries are attempted at once (each in its own lane).
pub const MAX_PARALLEL: usize = 16;
/// The longest the dispatcher sleeps without looking at the outbox: it is woken by this
/// process's writes and sleeps until the next retry is due, so this only bounds how late it
/// sees what another process wrote.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// Counters for metrics.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Attempts the receiver took.
    pub delivered: AtomicU64,
    /// Attempts that failed (and will be retried, or were the last).
    pub failed_attempts: AtomicU64,
    /// Deliveries given up.
    pub given_up: AtomicU64,
}

/// Delivers callbacks. Shared as `Arc<Dispatcher>`.
pub struct Dispatcher {
    store: Store,
    http: reqwest::Client,
    /// An attempt ended: its lane is free again.
    attempt_done: Notify,
    busy: Mutex<HashSet<(String, String)>>,
    stats: DeliveryStats,
}

impl Dispatcher {
    /// A dispatcher over `store`.
    pub fn new(store: Store) -> Arc<Dispatcher> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("cloudphone-callbacks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds");
        Arc::new(Dispatcher {
            store,
            http,
            attempt_done: Notify::new(),
            busy: Mutex::default(),
            stats: DeliveryStats::default(),
        })
    }

    /// Delivers until the returned handle is aborted.
    pub fn start(self: &Arc<Dispatcher>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.round().await {
                    tracing::error!(error = %e, "callback dispatch failed; retrying");
                }
                // Every due delivery not under way was started above, so what is due now is
                // under way, and its end wakes us; otherwise sleep until the next retry.
                let now = now_millis();
                let sleep = match this.store.next_delivery_due().await {
                    Ok(Some(due)) if due > now => Duration::from_millis((due - now) as u64).min(IDLE_RECHECK),
                    Ok(_) => IDLE_RECHECK,
                    Err(_) => Duration::from_secs(1),
                };
                tokio::select! {
                    _ = this.store.outbox_changed() => {}
                    _ = this.attempt_done.notified() => {}
                    _ = tokio::time::sleep(sleep) => {}
                }
            }
        })
    }

    /// The counters.
    pub fn stats(&self) -> &DeliveryStats {
        &self.stats
    }

    /// Starts an attempt at every due lane head that is not already being attempted.
    async fn round(self: &Arc<Dispatcher>) -> Result<(), StoreError> {
        let busy: Vec<(String, String)> = self.busy.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let room = MAX_PARALLEL.saturating_sub(busy.len());
        if room == 0 {
            return Ok(());
        }
        for delivery in self.store.due_deliveries(now_millis(), &busy, room as i64).await? {
            let lane = (delivery.tenant_id.clone(), delivery.lane.clone());
            if !self.busy.lock().unwrap_or_else(|e| e.into_inner()).insert(lane.clone()) {
                continue;
            }
            let this = self.clone();
            tokio::spawn(async move {
                let id = delivery.id.clone();
                if let Err(e) = this.attempt(delivery).await {
                    tracing::error!(delivery = id, error = %e, "recording a callback attempt failed");
                }
                this.busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&lane);
                this.attempt_done.notify_one();
            });
        }
        Ok(())
    }

    /// Makes one attempt at a delivery and records it.
    async fn attempt(&self, delivery: DeliveryRow) -> Result<(), StoreError> {
        let number = delivery.attempts + 1;
        let started = Instant::now();
        let at = now_millis();
        let Some(config) = self.store.callback(&delivery.tenant_id).await? else {
            let attempt = DeliveryAttempt {
                attempt: number,
                at,
                url: String::new(),
                status_code: None,
                error: Some("no callback URL is configured any more".into()),
                duration_ms: 0,
            };
            self.stats.given_up.fetch_add(1, Ordering::Relaxed);
            return self.store.record_attempt(&delivery.id, &attempt, &AttemptOutcome::GiveUp).await;
        };
        let signature = sign(&config.secret, at / 1000, delivery.body.as_bytes());
        let sent = self
            .http
            .post(&config.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_ID_HEADER, &delivery.event_id)
            .header(DELIVERY_ID_HEADER, &delivery.id)
            .body(delivery.body.clone())
            .send()
            .await;
        let (status_code, error) = match sent {
            Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
            Ok(response) => (Some(response.status().as_u16()), Some(format!("HTTP {}", response.status()))),
            Err(e) => (None, Some(describe(&e))),
        };
        let attempt = DeliveryAttempt {
            attempt: number,
            at,
            url: config.url,
            status_code: status_code.map(i64::from),
            error: error.clone(),
            duration_ms: started.elapsed().as_millis() as i64,
        };
        let outcome = match error {
            None => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                AttemptOutcome::Delivered
            }
            Some(error) => {
                self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                let next = now_millis() + jitter(retry_delay_ms(number.clamp(1, u32::MAX as i64) as u32));
                if next - delivery.created_at > RETRY_WINDOW_MS {
                    tracing::warn!(delivery = delivery.id, error, "giving a callback up after its retry window");
                    self.stats.given_up.fetch_add(1, Ordering::Relaxed);
                    AttemptOutcome::GiveUp
                } else {
                    tracing::info!(delivery = delivery.id, attempt = number, error, "callback failed; will retry");
                    AttemptOutcome::RetryAt(next)
                }
            }
        };
        self.store.record_attempt(&delivery.id, &attempt, &outcome).await
    }
}

/// ±10 %, so that many deliveries failing together do not retry together.
fn jitter(delay_ms: i64) -> i64 {
    let spread = delay_ms / 10;
    if spread == 0 {
        return delay_ms;
    }
    delay_ms + rand::random_range(-spread..=spread)
}

/// A short reason for a failed request (the error's chain, without the URL repeated).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
