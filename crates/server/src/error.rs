//! HTTP rendering of the error catalogue: every handler returns [`HttpError`], which becomes
//! `{"error": {"code", "message"}}` with the catalogue's status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cloudphone_device::identity::IdentityError;
use cloudphone_device::storage::FsError;
use cloudphone_device::virtual_phone::PackageError;
use cloudphone_host::HostError;
use cloudphone_protocol::{ApiError, ErrorCode};
use cloudphone_store::StoreError;

/// An API error on its way to the client.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = self.0.code.code(), message = %self.0.message, "request failed");
        }
        (status, Json(self.0.to_body())).into_response()
    }
}

impl From<HttpError> for ApiError {
    fn from(e: HttpError) -> Self {
        e.0
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        HttpError(ApiError::new(code))
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        HttpError(ApiError::with_message(ErrorCode::Internal, format!("storage: {e}")))
    }
}

impl From<HostError> for HttpError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::NotRunning(id) => HttpError(ApiError::with_message(
                ErrorCode::InstanceNotRunning,
                format!("instance {id} is not running"),
            )),
            HostError::Identity(e) => e.into(),
            HostError::Package(e) => {
                let code = match &e {
                    PackageError::InvalidApk(_) => ErrorCode::AppInvalidApk,
                    PackageError::OlderSdk { .. } => ErrorCode::AppOlderSdk,
                    PackageError::VersionDowngrade { .. } => ErrorCode::AppVersionDowngrade,
                    PackageError::SystemPackage(_) => ErrorCode::AppSystemPackage,
                    PackageError::NotInstalled(_) => ErrorCode::AppNotInstalled,
                    PackageError::NoSuchActivity(_) => ErrorCode::AppNoActivity,
                    PackageError::Storage(e) => {
                        return HttpError::from(HostError::File { path: String::new(), error: e.clone() });
                    }
                };
                HttpError(ApiError::with_message(code, e.to_string()))
            }
            HostError::File { path, error } => {
                let code = match &error {
                    FsError::NotFound => ErrorCode::FileNotFound,
                    FsError::IsADirectory => ErrorCode::FileIsDirectory,
                    FsError::NotADirectory => ErrorCode::FileNotDirectory,
                    FsError::ReadOnly => ErrorCode::FileReadOnly,
                    FsError::NotEmpty | FsError::Exists => ErrorCode::FileNotEmpty,
                    FsError::PermissionDenied => ErrorCode::FileDenied,
                    FsError::Io(_) => ErrorCode::Internal,
                };
                HttpError(ApiError::with_message(code, format!("{path}: {error}")))
            }
            other => HttpError(ApiError::with_message(ErrorCode::Internal, other.to_string())),
        }
    }
}

impl From<cloudphone_host::DeviceError> for HttpError {
    fn from(e: cloudphone_host::DeviceError) -> Self {
        HttpError(ApiError::with_message(ErrorCode::DeviceInputInvalid, e.to_string()))
    }
}

impl From<IdentityError> for HttpError {
    fn from(e: IdentityError) -> Self {
        let code = match &e {
            IdentityError::InvalidValue { .. } => ErrorCode::PropertyInvalid,
            IdentityError::ReadOnly { .. } => ErrorCode::PropertyReadOnly,
            IdentityError::Unknown { what: "model", .. } => ErrorCode::UnknownModel,
            IdentityError::Unknown { .. } => ErrorCode::UnknownCountry,
        };
        HttpError(ApiError::with_message(code, e.to_string()))
    }
}

/// The catalogue error of a body that does not parse: unknown field, wrong type and missing
/// field each have their own code; anything else (not JSON at all) is `request.invalid_body`.
pub fn body_error(e: &serde_json::Error) -> ApiError {
    let message = e.to_string();
    let code = if !e.is_data() {
        ErrorCode::InvalidBody
    } else if message.starts_with("unknown field") {
        ErrorCode::UnknownField
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        ErrorCode::WrongType
    } else if message.starts_with("missing field") {
        ErrorCode::MissingField
    } else {
        ErrorCode::InvalidBody
    };
    ApiError::with_message(code, message)
}

/// Shorthand for handler results.
pub type HttpResult<T> = Result<T, HttpError>;
