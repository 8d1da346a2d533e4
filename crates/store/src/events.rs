//! Events and their callback deliveries: an outbox. An event is written in the same transaction
//! as the change it reports (a task's end, a phone's status), with one delivery to the tenant's
//! callback URL if one is configured, so no change is ever stored without its event, nor an
//! event without the change.
//!
//! Deliveries of one tenant run in lanes (one per phone, and `""` for events about no phone);
//! only the oldest unfinished delivery of a lane is due, which keeps a phone's events in order.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// An event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Ordered id (`ev-…`).
    pub id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// The phone it is about.
    pub instance_id: Option<String>,
    /// Its type name (`task.ended`, `instance.status`).
    pub kind: String,
    /// Its business code.
    pub business_code: i64,
    /// The exact JSON body every delivery sends.
    pub body: String,
    /// When it happened.
    pub created_at: i64,
}

/// A tenant's callback endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackConfig {
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret (decrypted).
    pub secret: String,
    /// Last change.
    pub updated_at: i64,
}

/// One delivery of an event to a tenant's callback URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Ordered id (`dl-…`).
    pub id: String,
    /// The event it delivers.
    pub event_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its ordering lane (the phone id, or empty).
    pub lane: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
    /// The event's type name.
    pub event_kind: String,
    /// The event's business code.
    pub business_code: i64,
    /// The event's JSON body.
    pub body: String,
}

/// One attempt at a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// Its number, from 1.
    pub attempt: i64,
    /// When it was made.
    pub at: i64,
    /// Where it was sent.
    pub url: String,
    /// The HTTP status, if the receiver answered.
    pub status_code: Option<i64>,
    /// What went wrong, if it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// How an attempt ended, and so what becomes of the delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver took it (2xx).
    Delivered,
    /// Try again at this time.
    RetryAt(i64),
    /// Stop trying: the retry window is over, or the callback was removed.
    GiveUp,
}

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.tenant_id, d.lane, d.status, d.attempts, d.next_attempt_at,
    d.last_status_code, d.last_error, d.delivered_at, d.created_at, e.kind, e.business_code, e.body";

fn delivery_from(r: &AnyRow) -> DeliveryRow {
    DeliveryRow {
        id: r.get("id"),
        event_id: r.get("event_id"),
        tenant_id: r.get("tenant_id"),
        lane: r.get("lane"),
        status: r.get("status"),
        attempts: r.get("attempts"),
        next_attempt_at: r.get("next_attempt_at"),
        last_status_code: r.get("last_status_code"),
        last_error: r.get("last_error"),
        delivered_at: r.get("delivered_at"),
        created_at: r.get("created_at"),
        event_kind: r.get("kind"),
        business_code: r.get("business_code"),
        body: r.get("body"),
    }
}

/// Records an event and, when its tenant has a callback, a delivery of it: inside the caller's
/// transaction, so the event commits with the change it reports. Returns the delivery's id.
pub(crate) async fn record_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &NewEvent,
) -> Result<Option<String>, StoreError> {
    sqlx::query(
        "INSERT INTO events (id, tenant_id, instance_id, kind, business_code, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&event.id)
    .bind(&event.tenant_id)
    .bind(&event.instance_id)
    .bind(&event.kind)
    .bind(event.business_code)
    .bind(&event.body)
    .bind(event.created_at)
    .execute(&mut **tx)
    .await?;
    let configured: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM callbacks WHERE tenant_id = $1")
        .bind(&event.tenant_id)
        .fetch_optional(&mut **tx)
        .await?;
    if configured.is_none() {
        return Ok(None);
    }
    let id = crate::ordered_id("dl");
    insert_delivery(tx, &id, event, event.created_at).await?;
    Ok(Some(id))
}

async fn insert_delivery(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    event: &NewEvent,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deliveries (id, event_id, tenant_id, lane, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
    )
    .bind(id)
    .bind(&event.id)
    .bind(&event.tenant_id)
    .bind(event.instance_id.as_deref().unwrap_or(""))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records an event on its own (one that reports no stored change, like a ping). Returns
    /// its delivery's id, when the tenant has a callback.
    pub async fn insert_event(&self, event: &NewEvent) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let delivery = record_event(&mut tx, event).await?;
        tx.commit().await?;
        self.outbox_written();
        Ok(delivery)
    }

    /// Sets (or replaces) a tenant's callback endpoint; the secret is encrypted at rest.
    pub async fn set_callback(&self, tenant_id: &str, url: &str, secret: &str, now: i64) -> Result<(), StoreError> {
        let sealed = self.master.seal(secret);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM callbacks WHERE tenant_id = $1").bind(tenant_id).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO callbacks (tenant_id, url, secret, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant_id)
            .bind(url)
            .bind(sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A tenant's callback endpoint.
    pub async fn callback(&self, tenant_id: &str) -> Result<Option<CallbackConfig>, StoreError> {
        let row = sqlx::query("SELECT url, secret, updated_at FROM callbacks WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(CallbackConfig {
                url: r.get("url"),
                secret: self.master.open(&r.get::<String, _>("secret"))?,
                updated_at: r.get("updated_at"),
            })
        })
        .transpose()
    }

    /// Removes a tenant's callback endpoint. Returns whether there was one.
    pub async fn delete_callback(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM callbacks WHERE tenant_id = $1").bind(tenant_id).execute(&self.pool).await?;
        // Its pending deliveries are now to be given up.
        self.outbox_written();
        Ok(done.rows_affected() == 1)
    }

    /// Deliveries due at `now`: of each lane only the oldest unfinished one, and only if its time
    /// has come, oldest first; lanes in `busy` are skipped (an attempt is under way there).
    pub async fn due_deliveries(
        &self,
        now: i64,
        busy: &[(String, String)],
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1
             AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.tenant_id = d.tenant_id AND o.lane = d.lane
                             AND o.status = 'pending' AND o.id < d.id)
             ORDER BY d.id LIMIT $2"
        )))
        .bind(now)
        .bind(limit + busy.len() as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(delivery_from)
            .filter(|d| !busy.iter().any(|(tenant, lane)| *tenant == d.tenant_id && *lane == d.lane))
            .take(limit as usize)
            .collect())
    }

    /// When the next lane head falls due, if any delivery is pending.
    pub async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE d.status = 'pending'
             AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.tenant_id = d.tenant_id AND o.lane = d.lane
                             AND o.status = 'pending' AND o.id < d.id)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records an attempt and what it means for the delivery, atomically.
    pub async fn record_attempt(
        &self,
        delivery_id: &str,
        attempt: &DeliveryAttempt,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, url, status_code, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(delivery_id)
        .bind(attempt.attempt)
        .bind(attempt.at)
        .bind(&attempt.url)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        let (status, next, delivered) = match outcome {
            AttemptOutcome::Delivered => ("delivered", attempt.at, Some(attempt.at)),
            AttemptOutcome::RetryAt(at) => ("pending", *at, None),
            AttemptOutcome::GiveUp => ("failed", attempt.at, None),
        };
        sqlx::query(
            "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4,
             last_error = $5, delivered_at = $6 WHERE id = $7",
        )
        .bind(status)
        .bind(attempt.attempt)
        .bind(next)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(delivered)
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One of a tenant's deliveries.
    pub async fn delivery(&self, tenant_id: &str, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.tenant_id = $1 AND d.id = $2"
        )))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(delivery_from))
    }

    /// A page of a tenant's deliveries, newest first, before the id `before`, optionally of one
    /// status.
    pub async fn deliveries(
        &self,
        tenant_id: &str,
        status: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.tenant_id = $1 AND ($2 = '' OR d.status = $2) AND ($3 = '' OR d.id < $3)
             ORDER BY d.id DESC LIMIT $4"
        )))
        .bind(tenant_id)
        .bind(status.unwrap_or(""))
        .bind(before.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(delivery_from).collect())
    }

    /// The attempts made at a delivery, first first.
    pub async fn delivery_attempts(&self, delivery_id: &str) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, at, url, status_code, error, duration_ms FROM delivery_attempts
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| DeliveryAttempt {
                attempt: r.get("attempt"),
                at: r.get("at"),
                url: r.get("url"),
                status_code: r.get("status_code"),
                error: r.get("error"),
                duration_ms: r.get("duration_ms"),
            })
            .collect())
    }

    /// Queues the event of one of a tenant's deliveries again, as a new delivery at the end of
    /// its lane. Returns the new delivery, or `None` if there is no such delivery.
    pub async fn redeliver(
        &self,
        tenant_id: &str,
        delivery_id: &str,
        now: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        let Some(old) = self.delivery(tenant_id, delivery_id).await? else {
            return Ok(None);
        };
        let event = NewEvent {
            id: old.event_id.clone(),
            tenant_id: old.tenant_id.clone(),
            instance_id: (!old.lane.is_empty()).then(|| old.lane.clone()),
            kind: old.event_kind.clone(),
            business_code: old.business_code,
            body: old.body.clone(),
            created_at: now,
        };
        let id = crate::ordered_id("dl");
        let mut tx = self.pool.begin().await?;
        insert_delivery(&mut tx, &id, &event, now).await?;
        tx.commit().await?;
        self.outbox_written();
        self.delivery(tenant_id, &id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{key, stores};

    fn event(tenant: &str, instance: Option<&str>, n: i64) -> NewEvent {
        NewEvent {
            id: crate::ordered_id("ev"),
            tenant_id: tenant.into(),
            instance_id: instance.map(str::to_owned),
            kind: "instance.status".into(),
            business_code: 999,
            body: format!("{{\"n\":{n}}}"),
            created_at: n,
        }
    }

    fn attempt(n: i64, at: i64) -> DeliveryAttempt {
        DeliveryAttempt { attempt: n, at, url: "http://x".into(), status_code: Some(500), error: None, duration_ms: 3 }
    }

    #[tokio::test]
    async fn deliveries_keep_each_lane_in_order_and_retry() {
        let (_dir, stores) = stores().await;
        for store in stores {
            store.create_tenant("t1", "a", &key("ak1", "t1")).await.unwrap();
            store.insert_event(&event("t1", Some("cp-1"), 1)).await.unwrap();
            assert!(store.due_deliveries(10, &[], 10).await.unwrap().is_empty(), "no callback, no delivery");
            store.set_callback("t1", "http://hook", "sec", 1).await.unwrap();
            assert_eq!(store.callback("t1").await.unwrap().unwrap().secret, "sec");
            for (n, lane) in [(2, Some("cp-1")), (3, Some("cp-1")), (4, Some("cp-2")), (5, None)] {
                store.insert_event(&event("t1", lane, n)).await.unwrap();
            }
            let due = store.due_deliveries(10, &[], 10).await.unwrap();
            let bodies: Vec<&str> = due.iter().map(|d| d.body.as_str()).collect();
            assert_eq!(bodies, vec!["{\"n\":2}", "{\"n\":4}", "{\"n\":5}"], "one head per lane");
            let busy = vec![("t1".to_owned(), "cp-2".to_owned())];
            assert_eq!(store.due_deliveries(10, &busy, 10).await.unwrap().len(), 2);

            let head = &due[0];
            store.record_attempt(&head.id, &attempt(1, 10), &AttemptOutcome::RetryAt(20)).await.unwrap();
            let due = store.due_deliveries(15, &[], 10).await.unwrap();
            assert!(due.iter().all(|d| d.lane != "cp-1"), "a waiting head holds its lane back");
            assert_eq!(store.next_delivery_due().await.unwrap(), Some(4), "the other lanes are due since 4");
            store.record_attempt(&head.id, &attempt(2, 20), &AttemptOutcome::Delivered).await.unwrap();
            let due = store.due_deliveries(20, &[], 10).await.unwrap();
            assert_eq!(due[0].body, "{\"n\":3}", "then the lane's next event");

            let log = store.delivery("t1", &head.id).await.unwrap().unwrap();
            assert_eq!((log.status.as_str(), log.attempts, log.delivered_at), ("delivered", 2, Some(20)));
            assert_eq!(store.delivery_attempts(&head.id).await.unwrap().len(), 2);
            assert_eq!(store.delivery("t2", &head.id).await.unwrap(), None, "tenants see their own only");

            let again = store.redeliver("t1", &head.id, 30).await.unwrap().unwrap();
            assert_eq!((again.event_id.as_str(), again.status.as_str()), (head.event_id.as_str(), "pending"));
            assert!(again.id > due[0].id, "a redelivery queues at the end of its lane");
            let page = store.deliveries("t1", Some("pending"), None, 2).await.unwrap();
            assert_eq!(page[0].id, again.id, "newest first");
            let rest = store.deliveries("t1", Some("pending"), Some(&page[1].id), 10).await.unwrap();
            assert_eq!(page.len() + rest.len(), 4);

            store.record_attempt(&again.id, &attempt(1, 40), &AttemptOutcome::GiveUp).await.unwrap();
            assert_eq!(store.delivery("t1", &again.id).await.unwrap().unwrap().status, "failed");
            assert!(store.delete_callback("t1").await.unwrap());
            assert_eq!(store.callback("t1").await.unwrap(), None);
        }
    }
}
