//! Who is asking: the bearer token from `Authorization: Bearer TOKEN` or, for browsers'
//! WebSockets, from `access_token=TOKEN` in the query. Knows nothing of the protocols.

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::AppState;
use crate::accounts::{Token, User, user_for_token};
use crate::error::ServerError;

/// The signed-in user of a request, and the token they used.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The token that signed them in.
    pub token: Token,
}

/// The token a request carries, if any.
pub fn token_of(parts: &Parts) -> Option<Token> {
    let from_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let from_query = || {
        parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
        })
    };
    from_header
        .map(str::to_owned)
        .or_else(from_query)
        .filter(|t| !t.is_empty())
        .map(Token::new)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(parts).ok_or(ServerError::Unauthorized)?;
        let lookup = token.clone();
        let user = state
            .db
            .read(move |conn| user_for_token(conn, &lookup))
            .await?
            .ok_or(ServerError::Unauthorized)?;
        Ok(Self { user, token })
    }
}
