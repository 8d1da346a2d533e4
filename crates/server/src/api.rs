//! The HTTP routes. Handlers are thin: they parse, call a service, and render.

use axum::body::Bytes;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router, middleware};
use cloudphone_protocol::api::{CallbackRequest, CreatedInstances};
use cloudphone_protocol::api::{
    CatalogueCountry, CatalogueModel, ChangeReport, ClipboardText, CreateInstances, CreateSession, InstanceList,
    LocaleRequest, PropertiesPatch, PropertiesView, SensorReadings, ShellRequest, ShellResult, SignallingAnswer,
    SignallingOffer, StartApp, WifiList,
};
use cloudphone_protocol::task::BatchRequest;
use cloudphone_protocol::{ApiError, ErrorCode, TaskKind, TaskView};
use serde::de::DeserializeOwned;
use serde_json::json;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{self, Tenant};
use crate::credentials::random_hex;
use crate::error::{HttpError, HttpResult};
use crate::services::Instances;
use crate::tasks::MAX_WAIT;
use crate::{AppState, metrics, web};

/// Gives every request an `x-request-id` (kept if the client sent one), echoed in the response
/// and in every log line of the request.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        axum::http::HeaderValue::from_str(&random_hex(8)).ok().map(RequestId::new)
    }
}

/// The caller's tenant and the instance a route names: what almost every handler starts from.
pub struct PhoneRef {
    /// The authenticated tenant's id.
    pub tenant: String,
    /// The `{id}` path segment.
    pub id: String,
    /// The `{package}` path segment, on app routes.
    pub package: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PhoneRef {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tenant = parts.extensions.get::<Tenant>().cloned().ok_or(HttpError::from(ErrorCode::AuthMissing))?;
        let Path(params): Path<std::collections::HashMap<String, String>> = Path::from_request_parts(parts, state)
            .await
            .map_err(|e| HttpError::from(ApiError::with_message(ErrorCode::InvalidParameter, e.to_string())))?;
        let id = params.get("id").cloned().ok_or(HttpError::from(ErrorCode::RouteNotFound))?;
        Ok(PhoneRef { tenant: tenant.id, id, package: params.get("package").cloned() })
    }
}

/// All routes of the server.
pub fn router(state: AppState) -> Router {
    let signed = Router::new()
        .route("/v1/instances", post(create_instances).get(list_instances))
        .route("/v1/instances/{id}", get(get_instance).delete(delete_instance))
        .route("/v1/instances/{id}/shell", post(shell))
        .route("/v1/instances/{id}/screenshot", get(screenshot))
        .route("/v1/instances/{id}/sessions", post(create_session))
        .route("/v1/instances/{id}/properties", get(get_properties).patch(patch_properties))
        .route("/v1/instances/{id}/wifi", put(put_wifi))
        .route("/v1/instances/{id}/locale", put(put_locale))
        .route("/v1/instances/{id}/shell/async", post(shell_async))
        .route("/v1/instances/{id}/restart", post(|s, r, q, b| phone_task(s, r, q, b, TaskKind::Restart)))
        .route("/v1/instances/{id}/stop", post(|s, r, q, b| phone_task(s, r, q, b, TaskKind::Stop)))
        .route("/v1/instances/{id}/start", post(|s, r, q, b| phone_task(s, r, q, b, TaskKind::Start)))
        .route("/v1/instances/{id}/reset", post(|s, r, q, b| phone_task(s, r, q, b, TaskKind::Reset)))
        .route("/v1/instances/{id}/new-device", post(|s, r, q, b| phone_task(s, r, q, b, TaskKind::NewDevice)))
        .route("/v1/batch", post(batch))
        .route("/v1/tasks", get(list_tasks))
        .route("/v1/tasks/{task}", get(get_task))
        .route("/v1/tasks/{task}/cancel", post(cancel_task))
        .route("/v1/callback", get(get_callback).put(put_callback).delete(delete_callback))
        .route("/v1/callback/test", post(test_callback))
        .route("/v1/callback/deliveries", get(list_deliveries))
        .route("/v1/callback/deliveries/{delivery}", get(get_delivery))
        .route("/v1/callback/deliveries/{delivery}/redeliver", post(redeliver))
        .route("/v1/sessions/revoke", post(revoke_session))
        .route("/v1/admin/tenants", get(list_tenants).post(create_tenant))
        .route("/v1/admin/tenants/{tenant}/keys", get(list_keys).post(add_key))
        .route("/v1/admin/keys/{key}/disable", post(disable_key))
        .route("/v1/admin/keys/{key}/rotate", post(rotate_key))
        .route("/v1/catalogue/models", get(catalogue_models))
        .route("/v1/catalogue/countries", get(catalogue_countries))
        .route("/v1/instances/{id}/apps", get(list_apps))
        .route("/v1/instances/{id}/apps/{package}", delete(|s, r, q| app_task(s, r, q, TaskKind::AppUninstall)))
        .route("/v1/instances/{id}/apps/{package}/start", post(start_app))
        .route("/v1/instances/{id}/apps/{package}/stop", post(|s, r, q| app_task(s, r, q, TaskKind::AppStop)))
        .route("/v1/instances/{id}/apps/{package}/restart", post(|s, r, q| app_task(s, r, q, TaskKind::AppRestart)))
        .route("/v1/instances/{id}/apps/{package}/clear", post(|s, r, q| app_task(s, r, q, TaskKind::AppClear)))
        .route("/v1/instances/{id}/files", get(list_files).delete(remove_file))
        .route("/v1/instances/{id}/files/content", get(read_file))
        .route("/v1/instances/{id}/location", get(get_location).put(put_location))
        .route("/v1/instances/{id}/clipboard", get(get_clipboard).put(put_clipboard))
        .route("/v1/instances/{id}/sensors", get(get_sensors).post(post_sensors))
        .route("/v1/instances/{id}/playback", get(get_playback).delete(delete_playback))
        .route("/v1/instances/{id}/camera", get(get_camera).delete(delete_camera))
        .route("/v1/instances/{id}/microphone", get(get_microphone).delete(delete_microphone))
        .route("/v1/instances/{id}/audio", get(get_audio))
        .route_layer(middleware::from_fn_with_state(
            auth::AuthConfig { app: state.clone(), max_body: auth::MAX_BODY_BYTES },
            auth::authenticate,
        ));
    // Uploads take large bodies; everything else keeps the small limit.
    let uploads = Router::new()
        .route("/v1/instances/{id}/apps", post(install_app))
        .route("/v1/instances/{id}/files", put(write_file))
        .route("/v1/instances/{id}/playback", post(post_playback))
        .route("/v1/instances/{id}/camera", put(put_camera))
        .route("/v1/instances/{id}/microphone", put(put_microphone))
        .route_layer(middleware::from_fn_with_state(
            auth::AuthConfig { app: state.clone(), max_body: auth::MAX_UPLOAD_BYTES },
            auth::authenticate,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/v1/signalling/offer", post(signalling_offer))
        .merge(web::routes())
        .merge(signed)
        .merge(uploads)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .with_state(state)
}

/// Parses a JSON body; an empty body means the defaults.
fn json_body<T: DeserializeOwned + Default>(body: &Bytes) -> HttpResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::with_message(ErrorCode::InvalidBody, e.to_string()).into())
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn route_not_found() -> HttpError {
    ErrorCode::RouteNotFound.into()
}

async fn method_not_allowed() -> HttpError {
    ErrorCode::MethodNotAllowed.into()
}

/// How long a request that starts a task waits for it: `?wait=<seconds>` (0 to 60, default 0).
fn wait_of(query: &RawQuery) -> HttpResult<Duration> {
    let Some(query) = &query.0 else { return Ok(Duration::ZERO) };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("wait=") {
            let seconds: u64 = value.parse().map_err(|_| {
                ApiError::with_message(ErrorCode::InvalidParameter, "wait must be a whole number of seconds")
            })?;
            let wait = Duration::from_secs(seconds);
            if wait > MAX_WAIT {
                return Err(ApiError::with_message(
                    ErrorCode::InvalidParameter,
                    format!("wait must be 0 to {} seconds", MAX_WAIT.as_secs()),
                )
                .into());
            }
            return Ok(wait);
        }
    }
    Ok(Duration::ZERO)
}

/// A task as the answer to the request that started it: 202 while it is pending or running,
/// 200 once it has ended.
fn task_response(view: TaskView) -> Response {
    let status = if view.status.is_final() { StatusCode::OK } else { StatusCode::ACCEPTED };
    (status, Json(view)).into_response()
}

async fn create_instances(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: RawQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let request: CreateInstances = json_body(&body)?;
    let (mut instances, task) = app.tasks.create_instances(&tenant.id, &request).await?;
    let task = app.tasks.accepted(&task, wait).await?;
    if !wait.is_zero() {
        for instance in &mut instances {
            *instance = app.instances.get(&tenant.id, &instance.id).await?;
        }
    }
    let status = if task.status.is_final() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(CreatedInstances { instances, task })).into_response())
}

/// Starts a task on one phone: a lifecycle operation, with its JSON body as parameters.
async fn phone_task(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: RawQuery,
    body: Bytes,
    kind: TaskKind,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let params: serde_json::Value = json_body(&body)?;
    let task = app.tasks.submit(&tenant, kind, &id, params).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

async fn app_task(
    State(app): State<AppState>,
    PhoneRef { tenant, id, package }: PhoneRef,
    query: RawQuery,
    kind: TaskKind,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let task = app.tasks.submit(&tenant, kind, &id, json!({ "package": package.unwrap_or_default() })).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

async fn start_app(
    State(app): State<AppState>,
    PhoneRef { tenant, id, package }: PhoneRef,
    query: RawQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let request: StartApp = json_body(&body)?;
    let params = json!({ "package": package.unwrap_or_default(), "activity": request.activity });
    let params = if request.activity.is_none() { json!({ "package": params["package"] }) } else { params };
    let task = app.tasks.submit(&tenant, TaskKind::AppStart, &id, params).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

async fn shell_async(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: RawQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let request: ShellRequest = json_body(&body)?;
    let task = app.tasks.submit(&tenant, TaskKind::Shell, &id, json!({ "command": request.command })).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

async fn batch(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: RawQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let request: BatchRequest = json_body(&body)?;
    let task = app.tasks.batch(&tenant.id, request).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// `GET /v1/tasks` filters and page.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    instance_id: Option<String>,
    parent_id: Option<String>,
}

async fn list_tasks(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: Result<axum::extract::Query<TaskQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let q = query.map(|q| q.0).map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, e.to_string()))?;
    let filter = cloudphone_store::TaskFilter {
        status: q.status,
        kind: q.kind,
        instance_id: q.instance_id,
        parent_id: q.parent_id,
    };
    Ok(Json(app.tasks.list(&tenant.id, filter, q.cursor.as_deref(), q.limit.unwrap_or(100)).await?).into_response())
}

async fn get_task(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(task): Path<String>,
    query: RawQuery,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    Ok(Json(app.tasks.get(&tenant.id, &task, wait).await?).into_response())
}

async fn cancel_task(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(task): Path<String>,
) -> HttpResult<Response> {
    Ok(Json(app.tasks.cancel(&tenant.id, &task).await?).into_response())
}

async fn get_callback(State(app): State<AppState>, Extension(tenant): Extension<Tenant>) -> HttpResult<Response> {
    Ok(Json(app.callbacks.get(&tenant.id).await?).into_response())
}

async fn put_callback(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    body: Bytes,
) -> HttpResult<Response> {
    let request: CallbackRequest = json_body(&body)?;
    Ok(Json(app.callbacks.set(&tenant.id, request).await?).into_response())
}

async fn delete_callback(State(app): State<AppState>, Extension(tenant): Extension<Tenant>) -> HttpResult<StatusCode> {
    app.callbacks.delete(&tenant.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_callback(State(app): State<AppState>, Extension(tenant): Extension<Tenant>) -> HttpResult<Response> {
    Ok((StatusCode::ACCEPTED, Json(app.callbacks.ping(&tenant.id).await?)).into_response())
}

/// `GET /v1/callback/deliveries` filter and page.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
}

async fn list_deliveries(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: Result<axum::extract::Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let q = query.map(|q| q.0).map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, e.to_string()))?;
    let page =
        app.callbacks.deliveries(&tenant.id, q.status.as_deref(), q.cursor.as_deref(), q.limit.unwrap_or(100)).await?;
    Ok(Json(page).into_response())
}

async fn get_delivery(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(delivery): Path<String>,
) -> HttpResult<Response> {
    Ok(Json(app.callbacks.delivery(&tenant.id, &delivery).await?).into_response())
}

async fn redeliver(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(delivery): Path<String>,
) -> HttpResult<Response> {
    Ok((StatusCode::ACCEPTED, Json(app.callbacks.redeliver(&tenant.id, &delivery).await?)).into_response())
}

async fn list_instances(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let page = crate::paging::query(query)?;
    let (instances, next_cursor) = app.instances.list(&tenant.id, page.cursor.as_deref(), page.limit()?).await?;
    Ok(Json(InstanceList { instances, next_cursor }).into_response())
}

async fn get_instance(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.get(&tenant, &id).await?).into_response())
}

async fn delete_instance(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<StatusCode> {
    app.instances.delete(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn shell(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ShellResult>> {
    let request: ShellRequest = json_body(&body)?;
    let out = app.instances.shell(&tenant, &id, request.command).await?;
    Ok(Json(ShellResult { exit_code: out.exit_code, stdout: out.stdout, stderr: out.stderr }))
}

async fn screenshot(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    let png = app.instances.screenshot(&tenant, &id).await?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response())
}

async fn create_session(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Response> {
    let request: CreateSession = json_body(&body)?;
    let grant = app.sessions.create(&app.instances, &tenant, &id, request).await?;
    Ok((StatusCode::CREATED, Json(grant)).into_response())
}

/// The viewer's signalling request: `Authorization: Bearer <session token>`, body
/// `{"type": "offer", "sdp": "..."}`; answers `{"type": "answer", "sdp": "...", "instance_id"}`.
async fn signalling_offer(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> HttpResult<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(HttpError::from(ErrorCode::SessionTokenInvalid))?;
    let offer: SignallingOffer = json_body(&body)?;
    if offer.kind.as_deref().is_some_and(|k| k != "offer") || offer.sdp.is_empty() {
        return Err(
            ApiError::with_message(ErrorCode::InvalidBody, "expected {\"type\": \"offer\", \"sdp\": \"...\"}").into()
        );
    }
    let (instance_id, sdp) = app.sessions.answer(token, &offer.sdp).await?;
    Ok(Json(SignallingAnswer { kind: "answer".into(), sdp, instance_id }).into_response())
}

async fn get_properties(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
) -> HttpResult<Json<PropertiesView>> {
    Ok(Json(app.instances.properties(&tenant, &id).await?))
}

async fn patch_properties(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ChangeReport>> {
    let patch: PropertiesPatch = json_body(&body)?;
    let changes = Instances::patch_changes(patch)?;
    Ok(Json(app.instances.change(&tenant, &id, changes).await?))
}

async fn put_wifi(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ChangeReport>> {
    let list: WifiList = json_body(&body)?;
    Ok(Json(app.instances.set_wifi(&tenant, &id, list.networks).await?))
}

async fn put_locale(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ChangeReport>> {
    let request: LocaleRequest = json_body(&body)?;
    Ok(Json(app.instances.set_locale(&tenant, &id, request).await?))
}

async fn catalogue_models(
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Json<serde_json::Value>> {
    let query = crate::paging::query(query)?;
    let models: Vec<CatalogueModel> = cloudphone_device::identity::catalogue::models()
        .iter()
        .map(|m| CatalogueModel {
            model: m.model.clone(),
            market_name: m.market_name.clone(),
            brand: m.brand.clone(),
            manufacturer: m.manufacturer.clone(),
            device: m.device.clone(),
            android_version: m.release.clone(),
            sdk: m.sdk,
            fingerprint: m.fingerprint(),
        })
        .collect();
    let (models, next_cursor) = crate::paging::page_by_index("models", models, &query)?;
    Ok(Json(json!({ "models": models, "next_cursor": next_cursor })))
}

async fn catalogue_countries(
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Json<serde_json::Value>> {
    let query = crate::paging::query(query)?;
    let countries: Vec<CatalogueCountry> = cloudphone_device::identity::country::COUNTRIES
        .iter()
        .map(|c| CatalogueCountry {
            code: c.code.to_owned(),
            mccmnc: format!("{}{}", c.mcc, c.mnc),
            operator: c.operator.to_owned(),
            locale: c.locale.to_owned(),
            timezone: c.timezone.to_owned(),
        })
        .collect();
    let (countries, next_cursor) = crate::paging::page_by_index("countries", countries, &query)?;
    Ok(Json(json!({ "countries": countries, "next_cursor": next_cursor })))
}

async fn install_app(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: RawQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(&query)?;
    let task = app.tasks.submit_upload(&tenant, TaskKind::AppInstall, &id, None, body.to_vec()).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

async fn list_apps(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let query = crate::paging::query(query)?;
    let mut list = app.instances.apps(&tenant, &id).await?;
    list.apps.sort_by(|a, b| a.package.cmp(&b.package));
    let (apps, next_cursor) = crate::paging::page("apps", list.apps, |a| a.package.clone(), &query)?;
    (list.apps, list.next_cursor) = (apps, next_cursor);
    Ok(Json(list).into_response())
}

/// `?path=…[&recursive=true]` (and a page of a folder's entries: `&limit=&cursor=`).
#[derive(serde::Deserialize)]
struct FileQuery {
    path: String,
    #[serde(default)]
    recursive: bool,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn file_query(
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<FileQuery> {
    query.map(|q| q.0).map_err(|e| {
        ApiError::with_message(ErrorCode::InvalidParameter, format!("give the path as ?path=/sdcard/...: {e}")).into()
    })
}

async fn list_files(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let q = file_query(query)?;
    let page = crate::paging::PageQuery { limit: q.limit, cursor: q.cursor };
    let mut listing = app.instances.list_files(&tenant, &id, q.path).await?;
    listing.entries.sort_by(|a, b| a.name.cmp(&b.name));
    // A cursor names the folder it pages, so it cannot be used on another one.
    let list = format!("files:{}", listing.path);
    let (entries, next_cursor) = crate::paging::page(&list, listing.entries, |e| e.name.clone(), &page)?;
    (listing.entries, listing.next_cursor) = (entries, next_cursor);
    Ok(Json(listing).into_response())
}

async fn read_file(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let q = file_query(query)?;
    let bytes = app.instances.read_file(&tenant, &id, q.path).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn write_file(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
    raw: RawQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let q = file_query(query)?;
    let wait = wait_of(&raw)?;
    let task = app.tasks.submit_upload(&tenant, TaskKind::FileUpload, &id, Some(q.path), body.to_vec()).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

async fn remove_file(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<StatusCode> {
    let q = file_query(query)?;
    app.instances.remove_file(&tenant, &id, q.path, q.recursive).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_location(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let fix: cloudphone_protocol::control::LocationFix =
        serde_json::from_slice(&body).map_err(|e| ApiError::with_message(ErrorCode::InvalidBody, e.to_string()))?;
    app.instances.set_location(&tenant, &id, fix).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_location(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.location(&tenant, &id).await?).into_response())
}

async fn put_clipboard(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let clip: ClipboardText = json_body(&body)?;
    app.instances.set_clipboard(&tenant, &id, clip.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_clipboard(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.clipboard(&tenant, &id).await?).into_response())
}

async fn post_sensors(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let readings: SensorReadings = json_body(&body)?;
    app.instances.sensors(&tenant, &id, readings).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_sensors(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(json!({ "sensors": app.instances.sensor_status(&tenant, &id).await? })).into_response())
}

async fn post_playback(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Response> {
    let request: cloudphone_protocol::api::PlaybackRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::with_message(ErrorCode::InvalidBody, e.to_string()))?;
    Ok((StatusCode::ACCEPTED, Json(app.instances.play(&tenant, &id, request).await?)).into_response())
}

async fn get_playback(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(json!({ "playback": app.instances.playback(&tenant, &id).await? })).into_response())
}

async fn delete_playback(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<StatusCode> {
    app.instances.stop_playback(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?fps=30` for videos.
#[derive(serde::Deserialize, Default)]
struct FpsQuery {
    #[serde(default)]
    fps: Option<f64>,
}

async fn put_camera(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FpsQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> HttpResult<Response> {
    let fps = query
        .map(|q| q.0.fps.unwrap_or(30.0))
        .map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, e.to_string()))?;
    Ok(Json(app.instances.inject_camera(&tenant, &id, body.to_vec(), fps).await?).into_response())
}

async fn get_camera(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.camera(&tenant, &id).await?).into_response())
}

async fn delete_camera(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<StatusCode> {
    app.instances.clear_camera(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?loop=true`.
#[derive(serde::Deserialize, Default)]
struct LoopQuery {
    #[serde(default, rename = "loop")]
    looped: bool,
}

async fn put_microphone(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<LoopQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> HttpResult<Response> {
    let looped =
        query.map(|q| q.0.looped).map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, e.to_string()))?;
    let status = app.instances.inject_audio(&tenant, &id, body.to_vec(), looped).await?;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

async fn get_microphone(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.microphone(&tenant, &id).await?).into_response())
}

async fn delete_microphone(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
) -> HttpResult<StatusCode> {
    app.instances.stop_audio(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?ms=1000`.
#[derive(serde::Deserialize)]
struct AudioQuery {
    ms: u32,
}

async fn get_audio(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<AudioQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let ms = query
        .map(|q| q.0.ms)
        .map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, format!("give ?ms=1..10000: {e}")))?;
    let wav = app.instances.recent_audio(&tenant, &id, ms).await?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}

async fn create_tenant(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    body: Bytes,
) -> HttpResult<Response> {
    let request: cloudphone_protocol::api::CreateTenant = json_body(&body)?;
    Ok((StatusCode::CREATED, Json(app.tenants.create(&caller, &request.name).await?)).into_response())
}

async fn list_tenants(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let query = crate::paging::query(query)?;
    let (tenants, next_cursor) = crate::paging::page_by_index("tenants", app.tenants.list(&caller).await?, &query)?;
    Ok(Json(json!({ "tenants": tenants, "next_cursor": next_cursor })).into_response())
}

async fn add_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(tenant): Path<String>,
) -> HttpResult<Response> {
    Ok((StatusCode::CREATED, Json(app.tenants.add_key(&caller, &tenant).await?)).into_response())
}

async fn list_keys(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(tenant): Path<String>,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let query = crate::paging::query(query)?;
    let list = format!("keys:{tenant}");
    let (keys, next_cursor) = crate::paging::page_by_index(&list, app.tenants.keys(&caller, &tenant).await?, &query)?;
    Ok(Json(json!({ "keys": keys, "next_cursor": next_cursor })).into_response())
}

async fn disable_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(key): Path<String>,
) -> HttpResult<StatusCode> {
    app.tenants.disable_key(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(key): Path<String>,
) -> HttpResult<Response> {
    Ok((StatusCode::CREATED, Json(app.tenants.rotate_key(&caller, &key).await?)).into_response())
}

async fn revoke_session(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let request: cloudphone_protocol::api::RevokeSession = json_body(&body)?;
    app.sessions.revoke(&caller.id, &request.session_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
