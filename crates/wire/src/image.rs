//! Base images (`/images`), as Vers's SDK knows them.

use serde::{Deserialize, Serialize};

/// One base image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImage {
    /// Its id.
    pub base_image_id: String,
    /// Its name (what `vm_config.image_name` takes).
    pub image_name: String,
    /// Who made it.
    pub owner_id: String,
    /// Whether every account may use it.
    pub is_public: bool,
    /// Its size in MiB.
    pub size_mib: u64,
    /// Where it came from.
    pub source_type: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// What it holds.
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET /images` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageList {
    /// One page of images.
    pub images: Vec<BaseImage>,
    /// How many there are in all.
    pub total: u64,
    /// The page size used.
    pub limit: u64,
    /// How many were skipped.
    pub offset: u64,
}

/// `GET /images/{name}/status` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStatus {
    /// The image.
    pub image_name: String,
    /// Its size in MiB.
    pub size_mib: u64,
    /// `ready` once usable.
    pub status: String,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error_message: Option<String>,
}
