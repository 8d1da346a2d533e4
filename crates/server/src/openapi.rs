//! The OpenAPI 3.1 document, generated from the code: every handler in [`crate::api`] carries a
//! `#[utoipa::path]` and is registered through `utoipa_axum`, so the router and the document
//! are built from the same list and cannot drift. Served at `/v1/openapi.json`, browsable at
//! `/docs`.

use cloudphone_protocol::ErrorCode;
use cloudphone_protocol::error::ErrorBody;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa::{IntoParams, Modify, ToSchema};

/// Raw bytes (an APK, a file, a picture, a WAV).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// `?wait=`: how long the request waits for the task it starts (other query fields are the
/// route's own and pass by).
#[derive(IntoParams, serde::Deserialize)]
#[into_params(parameter_in = Query)]
pub struct WaitParam {
    /// Seconds (0 to 60, default 0) to wait for the task to end before answering.
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u32>,
}

/// `?path=` of a file operation.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilePathParam {
    /// A path in the phone (`/sdcard/…`).
    pub path: String,
}

/// `GET /v1/instances/{id}/files` query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileListParams {
    /// A path in the phone (`/sdcard/…`).
    pub path: String,
    /// Page size (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
}

/// `DELETE /v1/instances/{id}/files` query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileRemoveParams {
    /// A path in the phone.
    pub path: String,
    /// Remove a folder with its contents.
    pub recursive: Option<bool>,
}

/// `PUT /v1/instances/{id}/files` query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileWriteParams {
    /// Where the file goes (missing folders are made).
    pub path: String,
    /// Seconds (0 to 60) to wait for the upload task to end.
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u32>,
}

/// `?fps=` of a camera video.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FpsParam {
    /// Frames per second of an H.264 video (1 to 60, default 30).
    #[param(minimum = 1, maximum = 60)]
    pub fps: Option<f64>,
}

/// `?loop=` of a microphone feed.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoopParam {
    /// Start over at the end.
    #[param(rename = "loop")]
    pub looped: Option<bool>,
}

/// `?ms=` of the audio recording.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AudioParam {
    /// How much, 1 to 10000 ms.
    #[param(minimum = 1, maximum = 10000)]
    pub ms: u32,
}

/// The document's fixed parts.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "cloudphone",
        description = "Self-hosted cloud phones. Requests are signed with an access key pair (docs/api-signing.md); \
                       errors are `{\"error\": {\"code\", \"message\"}}` from one catalogue (docs/errors.md); \
                       asynchronous operations answer with a task (docs/tasks.md).",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// What every operation shares, added once the routes are in: the security schemes, and the
/// error answers of the catalogue.
pub struct Conventions;

/// The statuses the error catalogue answers with on API routes.
const ERROR_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 413, 429, 500];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "cp_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CP-Signature",
                "HMAC-SHA256 request signature with X-CP-Access-Key, X-CP-Timestamp and X-CP-Nonce \
                 (docs/api-signing.md)",
            ))),
        );
        components.add_security_scheme(
            "session_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from POST /v1/instances/{id}/sessions"))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                for status in ERROR_STATUSES {
                    let examples: Vec<&str> =
                        ErrorCode::ALL.iter().filter(|c| c.http_status() == *status).map(|c| c.code()).collect();
                    let response = ResponseBuilder::new()
                        .description(format!("An error of the catalogue: {}", examples.join(", ")))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"))))
                                .build(),
                        )
                        .build();
                    operation.responses.responses.entry(status.to_string()).or_insert(RefOr::T(response));
                }
            }
        }
    }
}
