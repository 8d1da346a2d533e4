//! The HTTP routes. Handlers are thin: they parse, call a service, and render.

use axum::body::Bytes;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router, middleware};
use cloudphone_protocol::api::{
    CallbackRequest, CallbackView, CountryList, CreatedInstances, DeliveryList, DeliveryView, Health, Instance,
    KeyList, ModelList, NewDevice, PlaybackView, SensorList, SessionGrant, TenantList,
};
use cloudphone_protocol::api::{
    CatalogueCountry, CatalogueModel, ChangeReport, ClipboardText, CreateInstances, CreateSession, InstanceList,
    LocaleRequest, PropertiesPatch, PropertiesView, SensorReadings, ShareSession, ShellRequest, ShellResult,
    SignallingAnswer, SignallingOffer, StartApp, WifiList,
};
use cloudphone_protocol::task::BatchRequest;
use cloudphone_protocol::task::TaskList;
use cloudphone_protocol::{ApiError, ErrorCode, TaskKind, TaskView};
use serde::de::DeserializeOwned;
use serde_json::json;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{self, Tenant};
use crate::credentials::random_hex;
use crate::error::{HttpError, HttpResult, body_error};
use crate::paging::PageQuery;
use crate::services::Instances;
use crate::tasks::MAX_WAIT;
use crate::{AppState, metrics, openapi, web};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

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
    let signed = OpenApiRouter::new()
        .routes(routes!(create_instances, list_instances))
        .routes(routes!(get_instance, delete_instance))
        .routes(routes!(shell))
        .routes(routes!(shell_async))
        .routes(routes!(screenshot))
        .routes(routes!(create_session))
        .routes(routes!(get_properties, patch_properties))
        .routes(routes!(put_wifi))
        .routes(routes!(put_locale))
        .routes(routes!(restart_instance))
        .routes(routes!(stop_instance))
        .routes(routes!(start_instance))
        .routes(routes!(reset_instance))
        .routes(routes!(new_device))
        .routes(routes!(batch))
        .routes(routes!(list_tasks))
        .routes(routes!(get_task))
        .routes(routes!(cancel_task))
        .routes(routes!(get_callback, put_callback, delete_callback))
        .routes(routes!(test_callback))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
        .routes(routes!(revoke_session))
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(list_keys, add_key))
        .routes(routes!(disable_key))
        .routes(routes!(rotate_key))
        .routes(routes!(catalogue_models))
        .routes(routes!(catalogue_countries))
        .routes(routes!(list_apps))
        .routes(routes!(uninstall_app))
        .routes(routes!(start_app))
        .routes(routes!(stop_app))
        .routes(routes!(restart_app))
        .routes(routes!(clear_app))
        .routes(routes!(list_files, remove_file))
        .routes(routes!(read_file))
        .routes(routes!(get_location, put_location))
        .routes(routes!(get_clipboard, put_clipboard))
        .routes(routes!(get_sensors, post_sensors))
        .routes(routes!(get_playback, delete_playback))
        .routes(routes!(get_camera, delete_camera))
        .routes(routes!(get_microphone, delete_microphone))
        .routes(routes!(get_audio))
        .route_layer(middleware::from_fn_with_state(
            auth::AuthConfig { app: state.clone(), max_body: auth::MAX_BODY_BYTES },
            auth::authenticate,
        ));
    // Uploads take large bodies; everything else keeps the small limit.
    let uploads = OpenApiRouter::new()
        .routes(routes!(install_app))
        .routes(routes!(write_file))
        .routes(routes!(post_playback))
        .routes(routes!(put_camera))
        .routes(routes!(put_microphone))
        .route_layer(middleware::from_fn_with_state(
            auth::AuthConfig { app: state.clone(), max_body: auth::MAX_UPLOAD_BYTES },
            auth::authenticate,
        ));
    let public = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(signalling_offer))
        .routes(routes!(signalling_share));
    let (api, mut document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(public)
        .merge(signed)
        .merge(uploads)
        .split_for_parts();
    utoipa::Modify::modify(&openapi::Conventions, &mut document);
    Router::new()
        .merge(SwaggerUi::new("/docs").url("/v1/openapi.json", document))
        .route("/metrics", get(metrics::render))
        .merge(web::routes())
        .merge(api)
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
    serde_json::from_slice(body).map_err(|e| body_error(&e).into())
}

/// Says the server is up, and its version.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "The server answers", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

async fn route_not_found() -> HttpError {
    ErrorCode::RouteNotFound.into()
}

async fn method_not_allowed() -> HttpError {
    ErrorCode::MethodNotAllowed.into()
}

/// How long a request that starts a task waits for it: `?wait=<seconds>` (0 to 60, default 0).
fn wait_of(query: WaitQuery) -> HttpResult<Duration> {
    let seconds = query
        .map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, format!("wait must be whole seconds: {e}")))?
        .0
        .wait
        .unwrap_or(0);
    let wait = Duration::from_secs(seconds.into());
    if wait > MAX_WAIT {
        let message = format!("wait must be 0 to {} seconds", MAX_WAIT.as_secs());
        return Err(ApiError::with_message(ErrorCode::InvalidParameter, message).into());
    }
    Ok(wait)
}

/// `?wait=` as handlers take it.
type WaitQuery = Result<axum::extract::Query<openapi::WaitParam>, axum::extract::rejection::QueryRejection>;

/// 202 while a task is pending or running, 200 once it has ended.
fn task_status(view: &TaskView) -> StatusCode {
    if view.status.is_final() { StatusCode::OK } else { StatusCode::ACCEPTED }
}

/// A task as the answer to the request that started it: 202 while it is pending or running,
/// 200 once it has ended.
fn task_response(view: TaskView) -> Response {
    (task_status(&view), Json(view)).into_response()
}

/// Creates phones, each with a fresh identity of the chosen model and country.
#[utoipa::path(post, path = "/v1/instances", tag = "instances", params(crate::openapi::WaitParam), request_body(content = CreateInstances, content_type = "application/json"), responses((status = 202, description = "The phones (booting) and the task creating them", body = CreatedInstances), (status = 200, description = "Created within `wait`", body = CreatedInstances)), security(("cp_signature" = [])))]
async fn create_instances(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: WaitQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let request: CreateInstances = json_body(&body)?;
    let (mut instances, task) = app.tasks.create_instances(&tenant.id, &request).await?;
    let task = app.tasks.accepted(&task, wait).await?;
    if !wait.is_zero() {
        for instance in &mut instances {
            *instance = app.instances.get(&tenant.id, &instance.id).await?;
        }
    }
    Ok((task_status(&task), Json(CreatedInstances { instances, task })).into_response())
}

/// Reboots a phone (pending `ro.*` changes take effect).
#[utoipa::path(post, path = "/v1/instances/{id}/restart", tag = "lifecycle", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn restart_instance(s: State<AppState>, r: PhoneRef, q: WaitQuery, b: Bytes) -> HttpResult<Response> {
    phone_task(s, r, q, b, TaskKind::Restart).await
}

/// Shuts a phone down, keeping its state.
#[utoipa::path(post, path = "/v1/instances/{id}/stop", tag = "lifecycle", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn stop_instance(s: State<AppState>, r: PhoneRef, q: WaitQuery, b: Bytes) -> HttpResult<Response> {
    phone_task(s, r, q, b, TaskKind::Stop).await
}

/// Boots a stopped phone.
#[utoipa::path(post, path = "/v1/instances/{id}/start", tag = "lifecycle", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn start_instance(s: State<AppState>, r: PhoneRef, q: WaitQuery, b: Bytes) -> HttpResult<Response> {
    phone_task(s, r, q, b, TaskKind::Start).await
}

/// Factory reset: notes, settings, `persist.*`, SSAIDs wiped, a new `android_id`; identity kept.
#[utoipa::path(post, path = "/v1/instances/{id}/reset", tag = "lifecycle", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn reset_instance(s: State<AppState>, r: PhoneRef, q: WaitQuery, b: Bytes) -> HttpResult<Response> {
    phone_task(s, r, q, b, TaskKind::Reset).await
}

/// "One-key new device": a fresh identity (random model, same country by default).
#[utoipa::path(post, path = "/v1/instances/{id}/new-device", tag = "lifecycle", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), request_body(content = NewDevice, content_type = "application/json"), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn new_device(s: State<AppState>, r: PhoneRef, q: WaitQuery, b: Bytes) -> HttpResult<Response> {
    phone_task(s, r, q, b, TaskKind::NewDevice).await
}

/// Starts a task on one phone: a lifecycle operation, with its JSON body as parameters.
async fn phone_task(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: WaitQuery,
    body: Bytes,
    kind: TaskKind,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let params: serde_json::Value = json_body(&body)?;
    let task = app.tasks.submit(&tenant, kind, &id, params).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// Uninstalls an app: APK, data, icon and SSAID go.
#[utoipa::path(delete, path = "/v1/instances/{id}/apps/{package}", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), ("package" = String, Path, description = "Package name"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn uninstall_app(s: State<AppState>, r: PhoneRef, q: WaitQuery) -> HttpResult<Response> {
    app_task(s, r, q, TaskKind::AppUninstall).await
}

/// Force-stops an app.
#[utoipa::path(post, path = "/v1/instances/{id}/apps/{package}/stop", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), ("package" = String, Path, description = "Package name"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn stop_app(s: State<AppState>, r: PhoneRef, q: WaitQuery) -> HttpResult<Response> {
    app_task(s, r, q, TaskKind::AppStop).await
}

/// Stops an app, then starts it.
#[utoipa::path(post, path = "/v1/instances/{id}/apps/{package}/restart", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), ("package" = String, Path, description = "Package name"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn restart_app(s: State<AppState>, r: PhoneRef, q: WaitQuery) -> HttpResult<Response> {
    app_task(s, r, q, TaskKind::AppRestart).await
}

/// Deletes an app's data.
#[utoipa::path(post, path = "/v1/instances/{id}/apps/{package}/clear", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), ("package" = String, Path, description = "Package name"), crate::openapi::WaitParam), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn clear_app(s: State<AppState>, r: PhoneRef, q: WaitQuery) -> HttpResult<Response> {
    app_task(s, r, q, TaskKind::AppClear).await
}

async fn app_task(
    State(app): State<AppState>,
    PhoneRef { tenant, id, package }: PhoneRef,
    query: WaitQuery,
    kind: TaskKind,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let task = app.tasks.submit(&tenant, kind, &id, json!({ "package": package.unwrap_or_default() })).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// Brings an app's activity to the front.
#[utoipa::path(post, path = "/v1/instances/{id}/apps/{package}/start", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), ("package" = String, Path, description = "Package name"), crate::openapi::WaitParam), request_body(content = StartApp, content_type = "application/json"), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn start_app(
    State(app): State<AppState>,
    PhoneRef { tenant, id, package }: PhoneRef,
    query: WaitQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let request: StartApp = json_body(&body)?;
    let params = json!({ "package": package.unwrap_or_default(), "activity": request.activity });
    let params = if request.activity.is_none() { json!({ "package": params["package"] }) } else { params };
    let task = app.tasks.submit(&tenant, TaskKind::AppStart, &id, params).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// Runs a shell command line as a task (VMOS `asyncCmd`).
#[utoipa::path(post, path = "/v1/instances/{id}/shell/async", tag = "shell", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), request_body(content = ShellRequest, content_type = "application/json"), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn shell_async(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: WaitQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let request: ShellRequest = json_body(&body)?;
    let task = app.tasks.submit(&tenant, TaskKind::Shell, &id, json!({ "command": request.command })).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// Runs one operation over many phones, as a batch task.
#[utoipa::path(post, path = "/v1/batch", tag = "tasks", params(crate::openapi::WaitParam), request_body(content = BatchRequest, content_type = "application/json"), responses((status = 202, description = "The batch", body = TaskView), (status = 200, description = "Ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn batch(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: WaitQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let request: BatchRequest = json_body(&body)?;
    let task = app.tasks.batch(&tenant.id, request).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// `GET /v1/tasks` filters and page.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    instance_id: Option<String>,
    parent_id: Option<String>,
}

/// A page of tasks, newest first, filtered.
#[utoipa::path(get, path = "/v1/tasks", tag = "tasks", params(TaskQuery), responses((status = 200, description = "A page of tasks, newest first", body = TaskList)), security(("cp_signature" = [])))]
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
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    Ok(Json(app.tasks.list(&tenant.id, filter, &page).await?).into_response())
}

/// One task; `wait` long-polls until it ends.
#[utoipa::path(get, path = "/v1/tasks/{task}", tag = "tasks", params(("task" = String, Path, description = "Task id (`tk-…`)"), crate::openapi::WaitParam), responses((status = 200, description = "The task", body = TaskView)), security(("cp_signature" = [])))]
async fn get_task(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(task): Path<String>,
    query: WaitQuery,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    Ok(Json(app.tasks.get(&tenant.id, &task, wait).await?).into_response())
}

/// Cancels a pending task, or a batch's pending children.
#[utoipa::path(post, path = "/v1/tasks/{task}/cancel", tag = "tasks", params(("task" = String, Path, description = "Task id")), responses((status = 200, description = "The cancelled task", body = TaskView)), security(("cp_signature" = [])))]
async fn cancel_task(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(task): Path<String>,
) -> HttpResult<Response> {
    Ok(Json(app.tasks.cancel(&tenant.id, &task).await?).into_response())
}

/// The callback URL.
#[utoipa::path(get, path = "/v1/callback", tag = "callbacks", responses((status = 200, description = "The callback URL", body = CallbackView)), security(("cp_signature" = [])))]
async fn get_callback(State(app): State<AppState>, Extension(tenant): Extension<Tenant>) -> HttpResult<Response> {
    Ok(Json(app.callbacks.get(&tenant.id).await?).into_response())
}

/// Sets the callback URL and its signing secret.
#[utoipa::path(put, path = "/v1/callback", tag = "callbacks", request_body(content = CallbackRequest, content_type = "application/json"), responses((status = 200, description = "Set; the secret is shown only now", body = CallbackView)), security(("cp_signature" = [])))]
async fn put_callback(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    body: Bytes,
) -> HttpResult<Response> {
    let request: CallbackRequest = json_body(&body)?;
    Ok(Json(app.callbacks.set(&tenant.id, request).await?).into_response())
}

/// Removes the callback URL.
#[utoipa::path(delete, path = "/v1/callback", tag = "callbacks", responses((status = 204, description = "Removed")), security(("cp_signature" = [])))]
async fn delete_callback(State(app): State<AppState>, Extension(tenant): Extension<Tenant>) -> HttpResult<StatusCode> {
    app.callbacks.delete(&tenant.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a `ping` event to the callback URL.
#[utoipa::path(post, path = "/v1/callback/test", tag = "callbacks", responses((status = 202, description = "A ping event queued", body = DeliveryView)), security(("cp_signature" = [])))]
async fn test_callback(State(app): State<AppState>, Extension(tenant): Extension<Tenant>) -> HttpResult<Response> {
    Ok((StatusCode::ACCEPTED, Json(app.callbacks.ping(&tenant.id).await?)).into_response())
}

/// `GET /v1/callback/deliveries` filter and page.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
}

/// A page of callback deliveries, newest first.
#[utoipa::path(get, path = "/v1/callback/deliveries", tag = "callbacks", params(DeliveryQuery), responses((status = 200, description = "A page of deliveries, newest first", body = DeliveryList)), security(("cp_signature" = [])))]
async fn list_deliveries(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: Result<axum::extract::Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let q = query.map(|q| q.0).map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, e.to_string()))?;
    let page = app
        .callbacks
        .deliveries(&tenant.id, q.status.as_deref(), &PageQuery { limit: q.limit, cursor: q.cursor })
        .await?;
    Ok(Json(page).into_response())
}

/// One callback delivery with its attempt log.
#[utoipa::path(get, path = "/v1/callback/deliveries/{delivery}", tag = "callbacks", params(("delivery" = String, Path, description = "Delivery id (`dl-…`)")), responses((status = 200, description = "The delivery with its attempts", body = DeliveryView)), security(("cp_signature" = [])))]
async fn get_delivery(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(delivery): Path<String>,
) -> HttpResult<Response> {
    Ok(Json(app.callbacks.delivery(&tenant.id, &delivery).await?).into_response())
}

/// Queues a delivery's event again.
#[utoipa::path(post, path = "/v1/callback/deliveries/{delivery}/redeliver", tag = "callbacks", params(("delivery" = String, Path, description = "Delivery id")), responses((status = 202, description = "The new delivery", body = DeliveryView)), security(("cp_signature" = [])))]
async fn redeliver(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Path(delivery): Path<String>,
) -> HttpResult<Response> {
    Ok((StatusCode::ACCEPTED, Json(app.callbacks.redeliver(&tenant.id, &delivery).await?)).into_response())
}

/// A page of the tenant's phones, oldest first.
#[utoipa::path(get, path = "/v1/instances", tag = "instances", params(crate::paging::PageQuery), responses((status = 200, description = "A page of phones, oldest first", body = InstanceList)), security(("cp_signature" = [])))]
async fn list_instances(
    State(app): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let page = crate::paging::query(query)?;
    let (instances, next_cursor) = app.instances.list(&tenant.id, &page).await?;
    Ok(Json(InstanceList { instances, next_cursor }).into_response())
}

/// One phone.
#[utoipa::path(get, path = "/v1/instances/{id}", tag = "instances", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The phone", body = Instance)), security(("cp_signature" = [])))]
async fn get_instance(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.get(&tenant, &id).await?).into_response())
}

/// Deletes a phone and everything it stored.
#[utoipa::path(delete, path = "/v1/instances/{id}", tag = "instances", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 204, description = "Deleted with everything it stored")), security(("cp_signature" = [])))]
async fn delete_instance(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<StatusCode> {
    app.instances.delete(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a shell command line and answers with its output.
#[utoipa::path(post, path = "/v1/instances/{id}/shell", tag = "shell", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = ShellRequest, content_type = "application/json"), responses((status = 200, description = "What the command printed", body = ShellResult)), security(("cp_signature" = [])))]
async fn shell(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ShellResult>> {
    let request: ShellRequest = json_body(&body)?;
    let out = app.instances.shell(&tenant, &id, request.command).await?;
    Ok(Json(ShellResult { exit_code: out.exit_code, stdout: out.stdout, stderr: out.stderr }))
}

/// The phone's screen as PNG.
#[utoipa::path(get, path = "/v1/instances/{id}/screenshot", tag = "instances", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The screen", content_type = "image/png", body = crate::openapi::Binary)), security(("cp_signature" = [])))]
async fn screenshot(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    let png = app.instances.screenshot(&tenant, &id).await?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response())
}

/// Issues an SDK token for one phone and, optionally, one end user.
#[utoipa::path(post, path = "/v1/instances/{id}/sessions", tag = "sessions", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = CreateSession, content_type = "application/json"), responses((status = 201, description = "An SDK token for one phone and end user", body = SessionGrant)), security(("cp_signature" = [])))]
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
#[utoipa::path(post, path = "/v1/signalling/offer", tag = "sessions", request_body(content = SignallingOffer, content_type = "application/json"), responses((status = 200, description = "The SDP answer", body = SignallingAnswer)), security(("session_token" = [])))]
async fn signalling_offer(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> HttpResult<Response> {
    let token = bearer(&headers)?;
    let offer: SignallingOffer = json_body(&body)?;
    if offer.kind.as_deref().is_some_and(|k| k != "offer") || offer.sdp.is_empty() {
        return Err(
            ApiError::with_message(ErrorCode::InvalidBody, "expected {\"type\": \"offer\", \"sdp\": \"...\"}").into()
        );
    }
    let (instance_id, sdp) = app.sessions.answer(token, &offer.sdp).await?;
    Ok(Json(SignallingAnswer { kind: "answer".into(), sdp, instance_id }).into_response())
}

/// Shares the session a token opens by a link: a new token for the same phone (a spectator by
/// default), doing no more than the sharer may, revoked with the sharer's token.
#[utoipa::path(post, path = "/v1/signalling/share", tag = "sessions", request_body(content = ShareSession, content_type = "application/json"), responses((status = 201, description = "The shared link's token and view URL", body = SessionGrant)), security(("session_token" = [])))]
async fn signalling_share(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> HttpResult<Response> {
    let token = bearer(&headers)?;
    let request: ShareSession = json_body(&body)?;
    let grant = app.sessions.share(token, request).await?;
    Ok((StatusCode::CREATED, Json(grant)).into_response())
}

/// The session token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> HttpResult<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(HttpError::from(ErrorCode::SessionTokenInvalid))
}

/// A phone's identity and system properties.
#[utoipa::path(get, path = "/v1/instances/{id}/properties", tag = "identity", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "Identity and properties", body = PropertiesView)), security(("cp_signature" = [])))]
async fn get_properties(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
) -> HttpResult<Json<PropertiesView>> {
    Ok(Json(app.instances.properties(&tenant, &id).await?))
}

/// Changes properties, modem fields and settings, all or nothing.
#[utoipa::path(patch, path = "/v1/instances/{id}/properties", tag = "identity", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = PropertiesPatch, content_type = "application/json"), responses((status = 200, description = "What was applied and what waits for a restart", body = ChangeReport)), security(("cp_signature" = [])))]
async fn patch_properties(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ChangeReport>> {
    let patch: PropertiesPatch = json_body(&body)?;
    let changes = Instances::patch_changes(patch)?;
    Ok(Json(app.instances.change(&tenant, &id, changes).await?))
}

/// Replaces the Wi-Fi list.
#[utoipa::path(put, path = "/v1/instances/{id}/wifi", tag = "identity", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = WifiList, content_type = "application/json"), responses((status = 200, description = "Applied", body = ChangeReport)), security(("cp_signature" = [])))]
async fn put_wifi(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ChangeReport>> {
    let list: WifiList = json_body(&body)?;
    Ok(Json(app.instances.set_wifi(&tenant, &id, list.networks).await?))
}

/// Sets the locale and/or the time zone.
#[utoipa::path(put, path = "/v1/instances/{id}/locale", tag = "identity", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = LocaleRequest, content_type = "application/json"), responses((status = 200, description = "Applied", body = ChangeReport)), security(("cp_signature" = [])))]
async fn put_locale(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Json<ChangeReport>> {
    let request: LocaleRequest = json_body(&body)?;
    Ok(Json(app.instances.set_locale(&tenant, &id, request).await?))
}

/// The device models phones can be created as.
#[utoipa::path(get, path = "/v1/catalogue/models", tag = "catalogue", params(crate::paging::PageQuery), responses((status = 200, description = "A page of device models", body = ModelList)), security(("cp_signature" = [])))]
async fn catalogue_models(
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Json<ModelList>> {
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
    Ok(Json(ModelList { models, next_cursor }))
}

/// The countries phones can be created in.
#[utoipa::path(get, path = "/v1/catalogue/countries", tag = "catalogue", params(crate::paging::PageQuery), responses((status = 200, description = "A page of countries", body = CountryList)), security(("cp_signature" = [])))]
async fn catalogue_countries(
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Json<CountryList>> {
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
    Ok(Json(CountryList { countries, next_cursor }))
}

/// Installs or updates an APK (the body is the file).
#[utoipa::path(post, path = "/v1/instances/{id}/apps", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::WaitParam), request_body(content = crate::openapi::Binary, content_type = "application/octet-stream"), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn install_app(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: WaitQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let wait = wait_of(query)?;
    let task = app.tasks.submit_upload(&tenant, TaskKind::AppInstall, &id, None, body.to_vec()).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// The installed apps and the one in front.
#[utoipa::path(get, path = "/v1/instances/{id}/apps", tag = "apps", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::paging::PageQuery), responses((status = 200, description = "A page of installed apps", body = cloudphone_protocol::api::AppList)), security(("cp_signature" = [])))]
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

/// A path in the phone and, for a folder, a page of its entries.
#[utoipa::path(get, path = "/v1/instances/{id}/files", tag = "files", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::FileListParams), responses((status = 200, description = "The path and a page of a folder's entries", body = cloudphone_protocol::api::FileListing)), security(("cp_signature" = [])))]
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

/// A file's bytes.
#[utoipa::path(get, path = "/v1/instances/{id}/files/content", tag = "files", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::FilePathParam), responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = crate::openapi::Binary)), security(("cp_signature" = [])))]
async fn read_file(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let q = file_query(query)?;
    let bytes = app.instances.read_file(&tenant, &id, q.path).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Writes a file into the phone (the body is its bytes).
#[utoipa::path(put, path = "/v1/instances/{id}/files", tag = "files", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::FileWriteParams), request_body(content = crate::openapi::Binary, content_type = "application/octet-stream"), responses((status = 202, description = "Accepted: the task, pending or running", body = TaskView), (status = 200, description = "The task ended within `wait`", body = TaskView)), security(("cp_signature" = [])))]
async fn write_file(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
    raw: WaitQuery,
    body: Bytes,
) -> HttpResult<Response> {
    let q = file_query(query)?;
    let wait = wait_of(raw)?;
    let task = app.tasks.submit_upload(&tenant, TaskKind::FileUpload, &id, Some(q.path), body.to_vec()).await?;
    Ok(task_response(app.tasks.accepted(&task, wait).await?))
}

/// Removes a file, or a folder.
#[utoipa::path(delete, path = "/v1/instances/{id}/files", tag = "files", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::FileRemoveParams), responses((status = 204, description = "Removed")), security(("cp_signature" = [])))]
async fn remove_file(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    query: Result<axum::extract::Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<StatusCode> {
    let q = file_query(query)?;
    app.instances.remove_file(&tenant, &id, q.path, q.recursive).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the location.
#[utoipa::path(put, path = "/v1/instances/{id}/location", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = cloudphone_protocol::control::LocationFix, content_type = "application/json"), responses((status = 204, description = "Set")), security(("cp_signature" = [])))]
async fn put_location(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let fix: cloudphone_protocol::control::LocationFix = serde_json::from_slice(&body).map_err(|e| body_error(&e))?;
    app.instances.set_location(&tenant, &id, fix).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current location and where it came from.
#[utoipa::path(get, path = "/v1/instances/{id}/location", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The location", body = cloudphone_protocol::api::LocationStatus)), security(("cp_signature" = [])))]
async fn get_location(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.location(&tenant, &id).await?).into_response())
}

/// Sets the clipboard text.
#[utoipa::path(put, path = "/v1/instances/{id}/clipboard", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = ClipboardText, content_type = "application/json"), responses((status = 204, description = "Set")), security(("cp_signature" = [])))]
async fn put_clipboard(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let clip: ClipboardText = json_body(&body)?;
    app.instances.set_clipboard(&tenant, &id, clip.text).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The clipboard text.
#[utoipa::path(get, path = "/v1/instances/{id}/clipboard", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The clipboard", body = ClipboardText)), security(("cp_signature" = [])))]
async fn get_clipboard(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.clipboard(&tenant, &id).await?).into_response())
}

/// Feeds sensor readings.
#[utoipa::path(post, path = "/v1/instances/{id}/sensors", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = SensorReadings, content_type = "application/json"), responses((status = 204, description = "Fed")), security(("cp_signature" = [])))]
async fn post_sensors(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let readings: SensorReadings = json_body(&body)?;
    app.instances.sensors(&tenant, &id, readings).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Each sensor's latest reading.
#[utoipa::path(get, path = "/v1/instances/{id}/sensors", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The latest readings", body = SensorList)), security(("cp_signature" = [])))]
async fn get_sensors(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(SensorList { sensors: app.instances.sensor_status(&tenant, &id).await? }).into_response())
}

/// Plays a sensor CSV or GPX script into the phone.
#[utoipa::path(post, path = "/v1/instances/{id}/playback", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), request_body(content = cloudphone_protocol::api::PlaybackRequest, content_type = "application/json"), responses((status = 202, description = "Playing", body = cloudphone_protocol::api::PlaybackStatus)), security(("cp_signature" = [])))]
async fn post_playback(
    State(app): State<AppState>,
    PhoneRef { tenant, id, .. }: PhoneRef,
    body: Bytes,
) -> HttpResult<Response> {
    let request: cloudphone_protocol::api::PlaybackRequest =
        serde_json::from_slice(&body).map_err(|e| body_error(&e))?;
    Ok((StatusCode::ACCEPTED, Json(app.instances.play(&tenant, &id, request).await?)).into_response())
}

/// The current or last scripted playback.
#[utoipa::path(get, path = "/v1/instances/{id}/playback", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The current or last playback", body = PlaybackView)), security(("cp_signature" = [])))]
async fn get_playback(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(PlaybackView { playback: app.instances.playback(&tenant, &id).await? }).into_response())
}

/// Stops the playback.
#[utoipa::path(delete, path = "/v1/instances/{id}/playback", tag = "sensors", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 204, description = "Stopped")), security(("cp_signature" = [])))]
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

/// Shows a picture, or loops an H.264 video, as the camera (VMOS `injectPicture`).
#[utoipa::path(put, path = "/v1/instances/{id}/camera", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::FpsParam), request_body(content = crate::openapi::Binary, content_type = "application/octet-stream"), responses((status = 200, description = "What the camera shows", body = cloudphone_protocol::api::CameraStatus)), security(("cp_signature" = [])))]
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

/// What the camera has received.
#[utoipa::path(get, path = "/v1/instances/{id}/camera", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "The camera", body = cloudphone_protocol::api::CameraStatus)), security(("cp_signature" = [])))]
async fn get_camera(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.camera(&tenant, &id).await?).into_response())
}

/// Turns the injected picture or video off.
#[utoipa::path(delete, path = "/v1/instances/{id}/camera", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 204, description = "Turned off")), security(("cp_signature" = [])))]
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

/// Feeds a WAV file into the microphone (VMOS `injectAudioToMic`).
#[utoipa::path(put, path = "/v1/instances/{id}/microphone", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::LoopParam), request_body(content = crate::openapi::Binary, content_type = "application/octet-stream"), responses((status = 202, description = "Feeding", body = cloudphone_protocol::api::MicrophoneStatus)), security(("cp_signature" = [])))]
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

/// What the microphone hears now.
#[utoipa::path(get, path = "/v1/instances/{id}/microphone", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 200, description = "What the microphone hears", body = cloudphone_protocol::api::MicrophoneStatus)), security(("cp_signature" = [])))]
async fn get_microphone(State(app): State<AppState>, PhoneRef { tenant, id, .. }: PhoneRef) -> HttpResult<Response> {
    Ok(Json(app.instances.microphone(&tenant, &id).await?).into_response())
}

/// Stops feeding the microphone.
#[utoipa::path(delete, path = "/v1/instances/{id}/microphone", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)")), responses((status = 204, description = "Stopped")), security(("cp_signature" = [])))]
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

/// The last milliseconds the phone played, as WAV.
#[utoipa::path(get, path = "/v1/instances/{id}/audio", tag = "media", params(("id" = String, Path, description = "Instance id (`cp-…`)"), crate::openapi::AudioParam), responses((status = 200, description = "The last `ms` the phone played", content_type = "audio/wav", body = crate::openapi::Binary)), security(("cp_signature" = [])))]
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

/// Creates a tenant with its first key (admin only).
#[utoipa::path(post, path = "/v1/admin/tenants", tag = "admin", request_body(content = cloudphone_protocol::api::CreateTenant, content_type = "application/json"), responses((status = 201, description = "The tenant and its first key (the secret is shown only now)", body = cloudphone_protocol::api::CreatedTenant)), security(("cp_signature" = [])))]
async fn create_tenant(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    body: Bytes,
) -> HttpResult<Response> {
    let request: cloudphone_protocol::api::CreateTenant = json_body(&body)?;
    Ok((StatusCode::CREATED, Json(app.tenants.create(&caller, &request.name).await?)).into_response())
}

/// A page of tenants (admin only).
#[utoipa::path(get, path = "/v1/admin/tenants", tag = "admin", params(crate::paging::PageQuery), responses((status = 200, description = "A page of tenants", body = TenantList)), security(("cp_signature" = [])))]
async fn list_tenants(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let query = crate::paging::query(query)?;
    let (tenants, next_cursor) = crate::paging::page_by_index("tenants", app.tenants.list(&caller).await?, &query)?;
    Ok(Json(TenantList { tenants, next_cursor }).into_response())
}

/// Adds a key pair to a tenant (admin only).
#[utoipa::path(post, path = "/v1/admin/tenants/{tenant}/keys", tag = "admin", params(("tenant" = String, Path, description = "Tenant id")), responses((status = 201, description = "The new key (the secret is shown only now)", body = cloudphone_protocol::api::NewKey)), security(("cp_signature" = [])))]
async fn add_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(tenant): Path<String>,
) -> HttpResult<Response> {
    Ok((StatusCode::CREATED, Json(app.tenants.add_key(&caller, &tenant).await?)).into_response())
}

/// A page of a tenant's keys, without secrets (admin only).
#[utoipa::path(get, path = "/v1/admin/tenants/{tenant}/keys", tag = "admin", params(("tenant" = String, Path, description = "Tenant id"), crate::paging::PageQuery), responses((status = 200, description = "A page of keys, without secrets", body = KeyList)), security(("cp_signature" = [])))]
async fn list_keys(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(tenant): Path<String>,
    query: Result<axum::extract::Query<crate::paging::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<Response> {
    let query = crate::paging::query(query)?;
    let list = format!("keys:{tenant}");
    let (keys, next_cursor) = crate::paging::page_by_index(&list, app.tenants.keys(&caller, &tenant).await?, &query)?;
    Ok(Json(KeyList { keys, next_cursor }).into_response())
}

/// Disables a key (admin only).
#[utoipa::path(post, path = "/v1/admin/keys/{key}/disable", tag = "admin", params(("key" = String, Path, description = "Access key id")), responses((status = 204, description = "Disabled")), security(("cp_signature" = [])))]
async fn disable_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(key): Path<String>,
) -> HttpResult<StatusCode> {
    app.tenants.disable_key(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a key with a new one and disables the old (admin only).
#[utoipa::path(post, path = "/v1/admin/keys/{key}/rotate", tag = "admin", params(("key" = String, Path, description = "Access key id")), responses((status = 201, description = "The new key; the old one is disabled", body = cloudphone_protocol::api::NewKey)), security(("cp_signature" = [])))]
async fn rotate_key(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    Path(key): Path<String>,
) -> HttpResult<Response> {
    Ok((StatusCode::CREATED, Json(app.tenants.rotate_key(&caller, &key).await?)).into_response())
}

/// Revokes a session token: it opens no new session.
#[utoipa::path(post, path = "/v1/sessions/revoke", tag = "sessions", request_body(content = cloudphone_protocol::api::RevokeSession, content_type = "application/json"), responses((status = 204, description = "Revoked")), security(("cp_signature" = [])))]
async fn revoke_session(
    State(app): State<AppState>,
    Extension(caller): Extension<Tenant>,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let request: cloudphone_protocol::api::RevokeSession = json_body(&body)?;
    app.sessions.revoke(&caller.id, &request.session_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
