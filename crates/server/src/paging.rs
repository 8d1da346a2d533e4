//! Pagination: every list takes `?limit=` (1 to 500, default 100) and `?cursor=`, and answers
//! `next_cursor` while more follows. A cursor is opaque to clients: hex of a versioned position
//! naming its list, so a cursor of one list is refused by another (`request.invalid_cursor`).

use cloudphone_protocol::{ApiError, ErrorCode};

use crate::error::{HttpError, HttpResult};

/// The largest page a list returns.
pub const MAX_PAGE: u32 = 500;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 100;

/// `?limit=…&cursor=…`.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size, checked.
    pub fn limit(&self) -> HttpResult<u32> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(
                ApiError::with_message(ErrorCode::InvalidParameter, format!("limit must be 1 to {MAX_PAGE}")).into()
            );
        }
        Ok(limit)
    }
}

/// The cursor after the row at `position` of the list `list`.
pub fn encode(list: &str, position: &str) -> String {
    hex::encode(format!("v1:{list}:{position}"))
}

/// The position in a cursor of the list `list`.
pub fn decode(list: &str, cursor: &str) -> HttpResult<String> {
    let invalid = || HttpError::from(ErrorCode::InvalidCursor);
    let text = String::from_utf8(hex::decode(cursor).map_err(|_| invalid())?).map_err(|_| invalid())?;
    let position = text.strip_prefix("v1:").and_then(|t| t.strip_prefix(list)).and_then(|t| t.strip_prefix(':'));
    position.map(str::to_owned).ok_or_else(invalid)
}

/// A page of a list held in memory, ordered by `position` (which must sort as the list does).
pub fn page<T>(
    list: &str,
    items: Vec<T>,
    position: impl Fn(&T) -> String,
    query: &PageQuery,
) -> HttpResult<(Vec<T>, Option<String>)> {
    let limit = query.limit()? as usize;
    let after = query.cursor.as_deref().map(|c| decode(list, c)).transpose()?;
    let rows: Vec<T> =
        items.into_iter().filter(|item| after.as_ref().is_none_or(|a| position(item) > *a)).take(limit + 1).collect();
    Ok(finish(list, rows, limit, position))
}

/// Cuts a page out of rows fetched one past its `limit` (the extra one says that another page
/// follows) and makes the cursor of the last row kept.
pub fn finish<T>(
    list: &str,
    mut rows: Vec<T>,
    limit: usize,
    position: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(|r| encode(list, &position(r))) } else { None };
    (rows, next)
}

/// A page of an append-only list held in memory (new items only ever come at its end, such as
/// tenants and keys by creation, or a fixed catalogue): positions are indexes.
pub fn page_by_index<T>(list: &str, items: Vec<T>, query: &PageQuery) -> HttpResult<(Vec<T>, Option<String>)> {
    let indexed: Vec<(usize, T)> = items.into_iter().enumerate().collect();
    let (rows, next) = page(list, indexed, |(i, _)| format!("{i:010}"), query)?;
    Ok((rows.into_iter().map(|(_, item)| item).collect(), next))
}

/// Reads `?limit=&cursor=`, with a clear error for anything else.
pub fn query(
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> HttpResult<PageQuery> {
    query.map(|q| q.0).map_err(|e| ApiError::with_message(ErrorCode::InvalidParameter, e.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_join_up_and_cursors_stay_in_their_list() {
        let items: Vec<u32> = (0..7).collect();
        let key = |n: &u32| format!("{n:04}");
        let mut query = PageQuery { limit: Some(3), cursor: None };
        let mut seen = Vec::new();
        loop {
            let (rows, next) = page("numbers", items.clone(), key, &query).unwrap();
            seen.extend(rows);
            match next {
                Some(next) => query.cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let cursor = encode("numbers", "0002");
        assert!(decode("letters", &cursor).is_err());
        assert!(decode("numbers", "not hex").is_err());
        assert_eq!(decode("numbers", &cursor).unwrap(), "0002");
        assert!(PageQuery { limit: Some(0), cursor: None }.limit().is_err());
        assert!(PageQuery { limit: Some(501), cursor: None }.limit().is_err());
    }
}
