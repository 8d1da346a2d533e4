//! The pages and scripts the server serves: the phone viewer and the browser SDK. They are
//! compiled into the binary from `web/`.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::AppState;

const VIEW_HTML: &str = include_str!("../../../web/view.html");
const SDK_JS: &str = include_str!("../../../web/sdk/cloudphone.js");

/// Routes of the static web files.
pub fn routes() -> Router<AppState> {
    Router::new().route("/view", get(|| async { Html(VIEW_HTML) })).route(
        "/sdk/cloudphone.js",
        get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SDK_JS).into_response() }),
    )
}
