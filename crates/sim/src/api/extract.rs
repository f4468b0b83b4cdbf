//! Extractors whose rejections are answered in the API's JSON error shape, not axum's text.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::db::Account;
use crate::error::ApiError;

/// A JSON request body (required).
pub(crate) struct Body<T>(pub T);

/// A JSON request body that may be left out (empty = `T::default()`).
pub(crate) struct OptionalBody<T>(pub T);

/// The query string.
pub(crate) struct Params<T>(pub T);

/// The one path parameter (a VM or commit id, a name).
pub(crate) struct Id(pub String);

/// Two path parameters (`{org}/{repo}`, `{repo}/{tag}`).
pub(crate) struct Ids2(pub String, pub String);

/// Three path parameters (`{org}/{repo}/{tag}`).
pub(crate) struct Ids3(pub String, pub String, pub String);

/// The account behind the request's key (put there by the API's authentication).
pub(crate) struct Caller(pub Account);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::EmptyBody);
        }
        parse(&bytes).map(Body)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        parse(&bytes).map(OptionalBody)
    }
}

async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::UnreadableBody {
            detail: rejection.body_text(),
            status: rejection.status(),
        })
}

/// Parses JSON: a syntax error is 400, a well-formed body of the wrong shape 422 (as Vers).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::WrongShape {
            detail: err.to_string(),
        },
        _ => ApiError::MalformedJson {
            detail: err.to_string(),
        },
    })
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::BadQuery {
                detail: rejection.body_text(),
            }),
        }
    }
}

/// Path parameters of type `T`, rejections in the API's shape.
async fn path<T, S>(parts: &mut Parts, state: &S) -> Result<T, ApiError>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    match Path::<T>::from_request_parts(parts, state).await {
        Ok(Path(value)) => Ok(value),
        Err(rejection) => Err(ApiError::BadField {
            field: "path",
            reason: rejection.body_text(),
        }),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path(parts, state).await.map(Id)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ids2 {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (a, b) = path(parts, state).await?;
        Ok(Ids2(a, b))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ids3 {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (a, b, c) = path(parts, state).await?;
        Ok(Ids3(a, b, c))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Account>() {
            Some(account) => Ok(Caller(account.clone())),
            None => Err(ApiError::Unauthorized {
                problem: "missing API key",
            }),
        }
    }
}
