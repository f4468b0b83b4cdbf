//! The account behind the key — who it is, whether the key is valid, the API's version —
//! and what belongs to the account rather than to one VM: environment variables for new
//! VMs, custom domains, base images.

use std::collections::BTreeMap;

use reqwest::Method;
use tether_wire::{
    CreateDomainRequest, DeleteDomainResponse, Domain, EnvVars, ImageList, ImageStatus,
    ListDomainsQuery, SetEnvVarsRequest, SystemVersion, ValidateKeyResponse, Whoami,
};

use crate::client::Call;
use crate::reply::Subject;
use crate::{Named, VersClient, VersError};

impl VersClient {
    /// `GET /whoami`: the key, organisation and user the configured key belongs to.
    pub async fn whoami(&self) -> Result<Whoami, VersError> {
        self.json(Call::new(Method::GET, &["whoami"], Subject::Account))
            .await
    }

    /// `POST /keys/validate`: whether the configured key is valid.
    pub async fn validate_key(&self) -> Result<ValidateKeyResponse, VersError> {
        let call = Call::new(Method::POST, &["keys", "validate"], Subject::Account);
        self.json(call.body(&serde_json::json!({}))?).await
    }

    /// `GET /system/version`: the API server's name and version.
    pub async fn system_version(&self) -> Result<SystemVersion, VersError> {
        let call = Call::new(Method::GET, &["system", "version"], Subject::Account);
        self.json(call).await
    }

    /// `GET /env_vars`: the variables put into every VM created from now on.
    pub async fn env_vars(&self) -> Result<BTreeMap<String, String>, VersError> {
        let call = Call::new(Method::GET, &["env_vars"], Subject::Account);
        Ok(self.json::<EnvVars>(call).await?.vars)
    }

    /// `PUT /env_vars`: sets `vars` (all of them, dropping the others, with `replace`).
    /// Returns the variables as they now are. Running VMs keep what they started with.
    pub async fn set_env_vars(
        &self,
        vars: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>, VersError> {
        let body = SetEnvVarsRequest {
            vars,
            replace: replace.then_some(true),
        };
        let call = Call::new(Method::PUT, &["env_vars"], Subject::Account).body(&body)?;
        Ok(self.json::<EnvVars>(call).await?.vars)
    }

    /// `DELETE /env_vars/{key}`.
    pub async fn delete_env_var(&self, key: &str) -> Result<(), VersError> {
        let subject = Subject::Named(Named::EnvVar(key.to_owned()));
        let call = Call::new(Method::DELETE, &["env_vars", key], subject);
        self.value(call).await.map(drop)
    }

    /// `GET /domains`: the account's custom domains (only `vm_id`'s, if given).
    pub async fn list_domains(&self, vm_id: Option<&str>) -> Result<Vec<Domain>, VersError> {
        let query = ListDomainsQuery {
            vm_id: vm_id.map(str::to_owned),
        };
        let subject = vm_id.map_or(Subject::Account, |id| Subject::Vm(id.to_owned()));
        let call = Call::new(Method::GET, &["domains"], subject).query(&query);
        self.json(call).await
    }

    /// `POST /domains`: routes `domain` to `vm_id` (409 if it is mapped already).
    pub async fn create_domain(&self, domain: &str, vm_id: &str) -> Result<Domain, VersError> {
        let body = CreateDomainRequest {
            domain: domain.to_owned(),
            vm_id: vm_id.to_owned(),
        };
        let subject = Subject::Vm(vm_id.to_owned());
        let call = Call::new(Method::POST, &["domains"], subject).body(&body)?;
        self.json(call).await
    }

    /// `GET /domains/{id}`.
    pub async fn get_domain(&self, domain_id: &str) -> Result<Domain, VersError> {
        self.json(domain_call(Method::GET, domain_id)).await
    }

    /// `DELETE /domains/{id}`. Returns the deleted domain's id.
    pub async fn delete_domain(&self, domain_id: &str) -> Result<String, VersError> {
        let reply: DeleteDomainResponse = self.json(domain_call(Method::DELETE, domain_id)).await?;
        Ok(reply.domain_id)
    }

    /// `GET /images`: the base images VMs can be made from.
    pub async fn list_images(&self) -> Result<ImageList, VersError> {
        self.json(Call::new(Method::GET, &["images"], Subject::Account))
            .await
    }

    /// `GET /images/{name}/status`.
    pub async fn image_status(&self, name: &str) -> Result<ImageStatus, VersError> {
        let subject = Subject::Named(Named::Image(name.to_owned()));
        let call = Call::new(Method::GET, &["images", name, "status"], subject);
        self.json(call).await
    }
}

fn domain_call(method: Method, domain_id: &str) -> Call {
    let subject = Subject::Named(Named::Domain(domain_id.to_owned()));
    Call::new(method, &["domains", domain_id], subject)
}
