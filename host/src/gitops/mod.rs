//! GitOps write-back. So far: the byte-preserving YAML editor and its path selectors;
//! the git side (clone cache, commit, push with retry) comes with `sluice run`.

pub mod selector;
pub mod yaml_edit;

pub use selector::{Selector, SelectorError, Step};
pub use yaml_edit::{Edit, EditError, get_value, locate, set_value};
