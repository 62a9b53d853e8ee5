//! Keeping a repository in shape: [`forget`] (retention), [`prune`]
//! (removing what no snapshot reaches), [`check`] and [`repair`], [`copy`]
//! to another repository, and [`tag`]. Each uses the repository layer
//! only; none uses another command's internals ([`notices`] is what prune
//! writes and check reads).

pub mod check;
pub mod copy;
pub mod forget;
pub mod notices;
pub mod prune;
pub mod repair;
pub mod tag;
