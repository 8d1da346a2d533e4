//! Request authentication: the AK/SK signature of `docs/api-signing.md`, checked before any
//! handler runs. On success the request carries the caller's [`Tenant`].

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use cloudphone_protocol::ErrorCode;
use cloudphone_protocol::signing::{
    HEADER_ACCESS_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest, TIMESTAMP_WINDOW_SECS,
    canonical_query, nonce_is_valid,
};

use crate::AppState;
use crate::error::{HttpError, HttpResult};

/// The largest JSON request body the API reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The largest upload (APK, file) the API reads.
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// What the signature check needs: the app and how much body a route may take.
#[derive(Clone)]
pub struct AuthConfig {
    /// The app.
    pub app: AppState,
    /// Body limit of the routes behind this check.
    pub max_body: usize,
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// The tenant's id.
    pub id: String,
    /// Whether it may manage tenants and keys.
    pub admin: bool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> HttpResult<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ErrorCode::AuthMissing.into())
}

/// Middleware: verifies the signature, then passes the request on with its [`Tenant`].
pub async fn authenticate(State(config): State<AuthConfig>, request: Request, next: Next) -> HttpResult<Response> {
    let app = config.app;
    let (mut parts, body) = request.into_parts();
    let body = to_bytes(body, config.max_body).await.map_err(|_| HttpError::from(ErrorCode::BodyTooLarge))?;

    let access_key = header(&parts.headers, HEADER_ACCESS_KEY)?;
    let timestamp = header(&parts.headers, HEADER_TIMESTAMP)?;
    let nonce = header(&parts.headers, HEADER_NONCE)?;
    let signature = header(&parts.headers, HEADER_SIGNATURE)?;

    let now_ms = cloudphone_store::now_millis();
    let ts: i64 = timestamp.parse().map_err(|_| HttpError::from(ErrorCode::AuthExpiredTimestamp))?;
    if (now_ms / 1000 - ts).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(ErrorCode::AuthExpiredTimestamp.into());
    }
    if !nonce_is_valid(nonce) {
        return Err(ErrorCode::AuthInvalidNonce.into());
    }
    let signing_key = app.store.signing_key(access_key).await?.ok_or(HttpError::from(ErrorCode::AuthUnknownKey))?;
    let key = &signing_key.key;
    let query = canonical_query(parts.uri.query().unwrap_or(""));
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        canonical_query: &query,
        timestamp,
        nonce,
        body: &body,
    };
    if !signed.verify(&key.secret_key, signature) {
        return Err(ErrorCode::AuthBadSignature.into());
    }
    // Only someone who can sign with the key learns that it is disabled.
    if signing_key.disabled {
        return Err(ErrorCode::AuthKeyDisabled.into());
    }
    if let Err(wait) = app.rate_limiter.check(&key.access_key) {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let error = cloudphone_protocol::ApiError::with_message(
            ErrorCode::RateLimited,
            format!("too many requests for access key {}; retry in {seconds} s", key.access_key),
        );
        let headers = [(axum::http::header::RETRY_AFTER, seconds.to_string())];
        return Ok((axum::http::StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(error.to_body())).into_response());
    }
    // Only a correctly signed request spends its nonce, so nobody can burn another's nonces.
    // The nonce is remembered for as long as its timestamp stays acceptable.
    let expires_at = (ts + TIMESTAMP_WINDOW_SECS + 1) * 1000;
    if !app.store.use_nonce(&key.access_key, nonce, now_ms, expires_at).await? {
        return Err(ErrorCode::AuthReplayedNonce.into());
    }
    parts.extensions.insert(Tenant { id: key.tenant_id.clone(), admin: signing_key.admin });
    Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
}
