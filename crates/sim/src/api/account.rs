//! Account routes: who a key is (`whoami`, `keys/validate`), the API's version, environment
//! variables, base images (the one `default` image; building images is refused) and deploy
//! (refused).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tether_wire::{
    BaseImage, EnvVars, ImageList, ImageStatus, ListCommitsQuery, SetEnvVarsRequest, SystemVersion,
    ValidateKeyResponse, Whoami, WhoamiKey, WhoamiOrg, WhoamiUser,
};

use super::AppState;
use super::extract::{Body, Caller, Id, Params};
use crate::db::Account;
use crate::error::{ApiError, RefError};
use crate::registry::DEFAULT_FS_MIB;

/// The built-in image: the host's system, read-only under each VM's own changes.
const DEFAULT_IMAGE: &str = "default";
/// Its id (fixed, so clients can name it).
const DEFAULT_IMAGE_ID: &str = "00000000-0000-4000-8000-0000000000d1";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/keys/validate", post(validate))
        .route("/env_vars", get(env_vars).put(set_env_vars))
        .route("/env_vars/{key}", delete(delete_env_var))
        .route("/images", get(images))
        .route("/images/{image_name}/status", get(image_status))
        .route("/images/create", post(create_image))
        .route("/images/upload", post(upload_image))
        .route("/images/images/{base_image_id}", delete(delete_image))
        .route("/deploy", post(deploy))
}

async fn whoami(Caller(caller): Caller) -> Json<Whoami> {
    Json(Whoami {
        user: WhoamiUser {
            id: caller.org_id.clone(),
            email: format!("{}@tether.localhost", caller.org_name),
            user_name: caller.org_name.clone(),
        },
        org: WhoamiOrg {
            id: caller.org_id,
            name: caller.org_name,
        },
        api_key: WhoamiKey {
            id: caller.key_id,
            label: caller.key_label,
            created_at: caller.key_created_at,
            expires_at: None,
            max_memory_mib: None,
            max_vcpus: None,
        },
    })
}

async fn validate(Caller(_): Caller) -> Json<ValidateKeyResponse> {
    Json(ValidateKeyResponse {
        valid: true,
        message: "API key is valid".into(),
    })
}

/// `GET /system/version` (no key needed).
pub(super) async fn version() -> Json<SystemVersion> {
    Json(SystemVersion {
        executable_name: "orchestrator".into(),
        workspace_version: env!("CARGO_PKG_VERSION").into(),
        git_hash: concat!("tether-sim-", env!("CARGO_PKG_VERSION")).into(),
    })
}

async fn env_vars(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<EnvVars>, ApiError> {
    Ok(Json(state.registry.catalog().env_vars(&caller)?))
}

async fn set_env_vars(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<SetEnvVarsRequest>,
) -> Result<Json<EnvVars>, ApiError> {
    Ok(Json(state.registry.catalog().set_env_vars(&caller, body)?))
}

async fn delete_env_var(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(key): Id,
) -> Result<StatusCode, ApiError> {
    state.registry.catalog().delete_env_var(&caller, &key)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn images(
    State(state): State<AppState>,
    Caller(_): Caller,
    Params(query): Params<ListCommitsQuery>,
) -> Result<Json<ImageList>, ApiError> {
    let limit = query.limit.unwrap_or(50).min(100);
    let offset = query.offset.unwrap_or(0);
    let image = default_image(&state)?;
    let images = std::iter::once(image)
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(ImageList {
        images,
        total: 1,
        limit,
        offset,
    }))
}

fn default_image(state: &AppState) -> Result<BaseImage, ApiError> {
    let first: Option<Account> = state
        .registry
        .catalog()
        .db()
        .account_by_key(&state.first_owner)?;
    Ok(BaseImage {
        base_image_id: DEFAULT_IMAGE_ID.into(),
        image_name: DEFAULT_IMAGE.into(),
        owner_id: state.first_owner.to_string(),
        is_public: true,
        size_mib: u64::from(DEFAULT_FS_MIB),
        source_type: "builtin".into(),
        created_at: first.map(|a| a.key_created_at).unwrap_or_default(),
        description: Some(
            "the host's system directories, read-only under each VM's own changes".into(),
        ),
    })
}

async fn image_status(Caller(_): Caller, Id(name): Id) -> Result<Json<ImageStatus>, ApiError> {
    if name != DEFAULT_IMAGE {
        return Err(RefError::UnknownImage { image: name }.into());
    }
    Ok(Json(ImageStatus {
        image_name: name,
        size_mib: u64::from(DEFAULT_FS_MIB),
        status: "ready".into(),
        error_message: None,
    }))
}

async fn create_image(Caller(_): Caller) -> ApiError {
    ApiError::NotAvailable {
        what: "building base images (POST /images/create)",
        instead: "the simulator has one image, \"default\"; make a VM from it, install what you \
                  need, commit it (POST /vm/{id}/commit) and restore or tag that commit",
    }
}

async fn upload_image(Caller(_): Caller) -> ApiError {
    ApiError::NotAvailable {
        what: "uploading base images (POST /images/upload)",
        instead: "the simulator has one image, \"default\"; copy your files into a VM (PUT \
                  /vm/{id}/files or `tether cp`), commit it and restore or tag that commit",
    }
}

async fn delete_image(Caller(_): Caller, Id(id): Id) -> ApiError {
    if id == DEFAULT_IMAGE_ID {
        return RefError::BuiltinImage.into();
    }
    RefError::UnknownImage { image: id }.into()
}

async fn deploy(Caller(_): Caller) -> ApiError {
    ApiError::NotAvailable {
        what: "deploying a GitHub repository (POST /deploy)",
        instead: "make a VM (POST /vm/new_root), then clone and build in it with \
                  POST /vm/{id}/exec (e.g. [\"sh\", \"-c\", \"git clone … && …\"])",
    }
}
