//! Domain routes (`/domains`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use tether_wire::{CreateDomainRequest, DeleteDomainResponse, Domain, ListDomainsQuery};

use super::extract::{Body, Caller, Id, Params};
use super::{AppState, Created, created};
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/domains", get(list).post(create))
        .route("/domains/{domain_id}", get(show).delete(remove))
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<CreateDomainRequest>,
) -> Created<Domain> {
    state.registry.vm(&caller, &body.vm_id)?;
    let catalog = state.registry.catalog();
    created(catalog.create_domain(&caller, body, &state.vm_domain)?)
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<ListDomainsQuery>,
) -> Result<Json<Vec<Domain>>, ApiError> {
    let catalog = state.registry.catalog();
    Ok(Json(catalog.list_domains(&caller, query.vm_id.as_deref())?))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<Json<Domain>, ApiError> {
    Ok(Json(state.registry.catalog().get_domain(&caller, &id)?))
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<Json<DeleteDomainResponse>, ApiError> {
    Ok(Json(state.registry.catalog().delete_domain(&caller, &id)?))
}
