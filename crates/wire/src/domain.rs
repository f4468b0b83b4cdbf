//! Custom domains: a DNS name mapped to a VM.

use serde::{Deserialize, Serialize};

/// `POST /domains` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDomainRequest {
    /// The name, e.g. `app.example.com`.
    pub domain: String,
    /// The VM it leads to.
    pub vm_id: String,
}

/// A domain as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// Its id.
    pub domain_id: String,
    /// The VM it leads to.
    pub vm_id: String,
    /// The name.
    pub domain: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

/// `GET /domains` query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDomainsQuery {
    /// Only the domains of this VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
}

/// `DELETE /domains/{id}` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteDomainResponse {
    /// The deleted domain's id.
    pub domain_id: String,
}
