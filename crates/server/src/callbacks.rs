//! A tenant's callback endpoint and its delivery log: configure, test, read, redeliver. The
//! deliveries themselves are `cloudphone_callbacks`' work.

use cloudphone_protocol::api::{CallbackRequest, CallbackView, DeliveryAttemptView, DeliveryList, DeliveryView};
use cloudphone_protocol::{ApiError, ErrorCode, rfc3339};
use cloudphone_store::{DeliveryRow, Store, now_millis};

use crate::credentials::random_hex;
use crate::error::HttpResult;
use crate::paging::PageQuery;

/// Callback configuration and the delivery log.
pub struct Callbacks {
    store: Store,
}

fn invalid(message: &str) -> ApiError {
    ApiError::with_message(ErrorCode::InvalidParameter, message)
}

fn delivery_view(row: &DeliveryRow) -> DeliveryView {
    DeliveryView {
        id: row.id.clone(),
        event_id: row.event_id.clone(),
        event_type: row.event_kind.clone(),
        business_code: row.business_code.clamp(0, u16::MAX as i64) as u16,
        status: row.status.clone(),
        attempts: row.attempts.max(0) as u32,
        next_attempt_at: (row.status == "pending").then(|| rfc3339(row.next_attempt_at)),
        last_status_code: row.last_status_code.map(|c| c.clamp(0, u16::MAX as i64) as u16),
        last_error: row.last_error.clone(),
        delivered_at: row.delivered_at.map(rfc3339),
        created_at: rfc3339(row.created_at),
        event: serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null),
        attempt_log: Vec::new(),
    }
}

impl Callbacks {
    /// The service. (The dispatcher learns of what is queued here from the store.)
    pub fn new(store: Store) -> Callbacks {
        Callbacks { store }
    }

    /// Sets the tenant's callback URL and secret. The answer shows the secret, once.
    pub async fn set(&self, tenant: &str, request: CallbackRequest) -> HttpResult<CallbackView> {
        let url = request.url.trim();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        let host = url.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if !scheme_ok
            || host.is_empty()
            || host.starts_with('/')
            || url.len() > 2048
            || url.contains(char::is_whitespace)
        {
            return Err(invalid("url must be an http:// or https:// URL of at most 2048 characters").into());
        }
        let secret = match request.secret {
            Some(secret) => {
                if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(invalid("secret must be 16 to 128 printable ASCII characters").into());
                }
                secret
            }
            None => format!("whsec_{}", random_hex(24)),
        };
        let now = now_millis();
        self.store.set_callback(tenant, url, &secret, now).await?;
        Ok(CallbackView { url: url.to_owned(), secret: Some(secret), updated_at: rfc3339(now) })
    }

    /// The tenant's callback URL (never the secret).
    pub async fn get(&self, tenant: &str) -> HttpResult<CallbackView> {
        let config = self.store.callback(tenant).await?.ok_or(ApiError::from(ErrorCode::CallbackNotConfigured))?;
        Ok(CallbackView { url: config.url, secret: None, updated_at: rfc3339(config.updated_at) })
    }

    /// Removes the callback; pending deliveries are then given up.
    pub async fn delete(&self, tenant: &str) -> HttpResult<()> {
        if !self.store.delete_callback(tenant).await? {
            return Err(ErrorCode::CallbackNotConfigured.into());
        }
        Ok(())
    }

    /// Queues a `ping` event, to test the endpoint; returns its delivery.
    pub async fn ping(&self, tenant: &str) -> HttpResult<DeliveryView> {
        self.get(tenant).await?;
        let event = cloudphone_tasks::events::ping(tenant, now_millis());
        let queued = self.store.insert_event(&event).await?;
        // The callback was checked above; only a removal in between leaves no delivery.
        let delivery = queued.ok_or(ApiError::from(ErrorCode::CallbackNotConfigured))?;
        self.delivery(tenant, &delivery).await
    }

    /// A page of the tenant's deliveries, newest first, optionally of one status.
    pub async fn deliveries(&self, tenant: &str, status: Option<&str>, page: &PageQuery) -> HttpResult<DeliveryList> {
        let limit = page.limit()? as usize;
        if status.is_some_and(|s| !["pending", "delivered", "failed"].contains(&s)) {
            return Err(invalid("status must be pending, delivered or failed").into());
        }
        let before = page.cursor.as_deref().map(|c| crate::paging::decode("deliveries", c)).transpose()?;
        let rows = self.store.deliveries(tenant, status, before.as_deref(), limit as i64 + 1).await?;
        let (rows, next_cursor) = crate::paging::finish("deliveries", rows, limit, |r| r.id.clone());
        Ok(DeliveryList { next_cursor, deliveries: rows.iter().map(delivery_view).collect() })
    }

    /// One delivery with its attempt log.
    pub async fn delivery(&self, tenant: &str, id: &str) -> HttpResult<DeliveryView> {
        let row = self.store.delivery(tenant, id).await?.ok_or_else(|| {
            ApiError::with_message(ErrorCode::DeliveryNotFound, format!("delivery {id} does not exist"))
        })?;
        let mut view = delivery_view(&row);
        view.attempt_log = self
            .store
            .delivery_attempts(id)
            .await?
            .into_iter()
            .map(|a| DeliveryAttemptView {
                attempt: a.attempt.max(0) as u32,
                at: rfc3339(a.at),
                url: a.url,
                status_code: a.status_code.map(|c| c.clamp(0, u16::MAX as i64) as u16),
                error: a.error,
                duration_ms: a.duration_ms.max(0) as u64,
            })
            .collect();
        Ok(view)
    }

    /// Queues a delivery's event again (at the end of its phone's lane).
    pub async fn redeliver(&self, tenant: &str, id: &str) -> HttpResult<DeliveryView> {
        self.get(tenant).await?;
        let row = self.store.redeliver(tenant, id, now_millis()).await?.ok_or_else(|| {
            ApiError::with_message(ErrorCode::DeliveryNotFound, format!("delivery {id} does not exist"))
        })?;
        Ok(delivery_view(&row))
    }
}
