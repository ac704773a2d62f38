//! GitOps write-back: the byte-preserving YAML editor and its path selectors, SSH
//! host-key checks, and the deploy repository (clone cache, commit, push with retry).

pub mod known_hosts;
pub mod repo;
pub mod selector;
pub mod yaml_edit;

pub use repo::{
    Change, DeployRepo, FieldValue, GitAuth, GitError, Promotion, RepoSettings, Target,
    TargetCheck, TargetValue,
};
pub use selector::{Selector, SelectorError, Step};
pub use yaml_edit::{Edit, EditError, get_value, locate, set_value};
