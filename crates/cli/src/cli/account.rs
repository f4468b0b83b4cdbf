//! `tether tag …`, `tether repo …`, `tether env …`, `tether domain …`: what belongs to the
//! account rather than to one VM.

use clap::{Args, Subcommand};

/// `tether tag …`: names that point at a commit and can be moved.
///
/// A tag is written `name` (account-wide), `repo:tag` (a tag of one of your repositories) or
/// `org/repo:tag` (a tag of another organisation's public repository, which can be read and
/// branched but not changed). COMMIT takes a full id or a unique prefix.
#[derive(Debug, Subcommand)]
pub(crate) enum TagCommand {
    /// List the account-wide tags (a repository's with --repo, every tag with --all).
    Ls(TagLsArgs),
    /// Name a commit: make a tag that points at it (an error if the name is taken).
    Create(TagCreateArgs),
    /// Show a tag: the commit it points at now, when it was made and moved.
    Show(TagArg),
    /// Point a tag at another commit.
    Move(TagMoveArgs),
    /// Delete a tag (its commit stays).
    Rm(TagArg),
}

/// Options of `tether tag ls`.
#[derive(Debug, Args)]
pub(crate) struct TagLsArgs {
    /// List this repository's tags instead (`repo`, or `org/repo` for a public one).
    #[arg(long, value_name = "REPO", conflicts_with = "all")]
    pub repo: Option<String>,
    /// List the account-wide tags and the tags of every repository of the account.
    #[arg(long)]
    pub all: bool,
}

/// One tag.
#[derive(Debug, Args)]
pub(crate) struct TagArg {
    /// The tag: `name`, `repo:tag` or `org/repo:tag`.
    #[arg(value_name = "NAME")]
    pub tag: String,
}

/// Options of `tether tag create`.
#[derive(Debug, Args)]
pub(crate) struct TagCreateArgs {
    /// The new tag: `name` (account-wide) or `repo:tag` (in an existing repository).
    #[arg(value_name = "NAME")]
    pub tag: String,
    /// The commit it names (full id or unique prefix).
    pub commit: String,
    /// A description.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// Options of `tether tag move`.
#[derive(Debug, Args)]
pub(crate) struct TagMoveArgs {
    /// The tag: `name` or `repo:tag`.
    #[arg(value_name = "NAME")]
    pub tag: String,
    /// The commit it points at from now on (full id or unique prefix).
    pub commit: String,
}

/// `tether repo …`: repositories, named groups of tags, private or public.
#[derive(Debug, Subcommand)]
pub(crate) enum RepoCommand {
    /// List the account's repositories.
    Ls,
    /// Make a repository (private until `tether repo publish`).
    Create(RepoCreateArgs),
    /// Show a repository and its tags.
    Show(RepoArg),
    /// Delete a repository and its tags (their commits stay).
    Rm(RepoArg),
    /// Make a repository public: every account can list it, read its tags and branch them.
    Publish(RepoArg),
    /// Make a repository private again.
    Unpublish(RepoArg),
    /// List a repository's tags (`repo`, or `org/repo` for another organisation's public one).
    Tags(RepoArg),
    /// List every organisation's public repositories, or show one (`org/repo`) with its tags.
    Public(RepoPublicArgs),
    /// Copy a public repository's tag into your account: a new repository of yours with the
    /// tag, and a VM restored from its commit; prints the new tag (`repo:tag`) and the VM.
    Fork(RepoForkArgs),
}

/// One repository.
#[derive(Debug, Args)]
pub(crate) struct RepoArg {
    /// The repository's name.
    #[arg(value_name = "REPO")]
    pub repo: String,
}

/// Options of `tether repo create`.
#[derive(Debug, Args)]
pub(crate) struct RepoCreateArgs {
    /// The repository's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// A description.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// Options of `tether repo public`.
#[derive(Debug, Args)]
pub(crate) struct RepoPublicArgs {
    /// A public repository, `org/repo`, to show with its tags [default: list them all].
    #[arg(value_name = "ORG/REPO")]
    pub repo: Option<String>,
}

/// Options of `tether repo fork`.
#[derive(Debug, Args)]
pub(crate) struct RepoForkArgs {
    /// The public tag to copy: `org/repo:tag`.
    #[arg(value_name = "ORG/REPO:TAG")]
    pub source: String,
    /// Name of the copy: `repo` or `repo:tag` [default: the same repository and tag names].
    #[arg(long = "as", value_name = "REPO[:TAG]")]
    pub target: Option<String>,
}

/// `tether env …`: environment variables put into every VM created from now on.
#[derive(Debug, Subcommand)]
pub(crate) enum EnvCommand {
    /// List the variables.
    Ls,
    /// Set variables (keeping the others; all of them, dropping the others, with --replace).
    ///
    /// VMs created (new, branched, restored) afterwards get them; running VMs keep what they
    /// started with.
    Set(EnvSetArgs),
    /// Remove a variable.
    Rm(EnvRmArgs),
}

/// Options of `tether env set`.
#[derive(Debug, Args)]
pub(crate) struct EnvSetArgs {
    /// The variables.
    #[arg(required = true, value_name = "K=V", value_parser = crate::cli::parse_env)]
    pub vars: Vec<(String, String)>,
    /// Make these the only variables: drop every other one.
    #[arg(long)]
    pub replace: bool,
}

/// Options of `tether env rm`.
#[derive(Debug, Args)]
pub(crate) struct EnvRmArgs {
    /// The variable's name.
    #[arg(value_name = "K")]
    pub name: String,
}

/// `tether domain …`: custom domains routed to VMs.
#[derive(Debug, Subcommand)]
pub(crate) enum DomainCommand {
    /// List the account's domains (only one VM's with --vm).
    Ls(DomainLsArgs),
    /// Route a domain to a VM; prints the mapping's id.
    Add(DomainAddArgs),
    /// Show one domain mapping.
    Show(DomainArg),
    /// Remove a domain mapping.
    Rm(DomainArg),
}

/// Options of `tether domain ls`.
#[derive(Debug, Args)]
pub(crate) struct DomainLsArgs {
    /// Only this VM's domains (full id or unique prefix).
    #[arg(long, value_name = "VM")]
    pub vm: Option<String>,
}

/// Options of `tether domain add`.
#[derive(Debug, Args)]
pub(crate) struct DomainAddArgs {
    /// The domain name (e.g. app.example.com).
    pub domain: String,
    /// The VM (full id or unique prefix).
    pub vm: String,
}

/// One domain mapping.
#[derive(Debug, Args)]
pub(crate) struct DomainArg {
    /// The mapping's id (from `tether domain ls`).
    #[arg(value_name = "ID")]
    pub id: String,
}
