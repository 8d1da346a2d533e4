//! The pages and scripts the server serves: the web console, the phone viewer and the browser
//! SDK. They are compiled into the binary from `web/`.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::AppState;

const CONSOLE_HTML: &str = include_str!("../../../web/console.html");
const VIEW_HTML: &str = include_str!("../../../web/view.html");
const SDK_SESSION_JS: &str = include_str!("../../../web/sdk/cloudphone.js");
const SDK_API_JS: &str = include_str!("../../../web/sdk/api.js");

fn javascript(source: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], source)
}

/// Routes of the static web files.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Html(CONSOLE_HTML) }))
        .route("/view", get(|| async { Html(VIEW_HTML) }))
        .route("/sdk/cloudphone.js", get(|| async { javascript(SDK_SESSION_JS) }))
        .route("/sdk/api.js", get(|| async { javascript(SDK_API_JS) }))
}
