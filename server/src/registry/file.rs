//! STUB (being written): the file registry.
use crate::registry::{NodeKind, NodeStatus, Registry};
use crate::Result;
/// The file registry.
pub struct FileRegistry;
impl FileRegistry {
    /// Opens it.
    pub fn open(_dir: &std::path::Path) -> Result<FileRegistry> { unimplemented!() }
}
#[async_trait::async_trait]
impl Registry for FileRegistry {
    async fn node(&self, _: NodeKind, _: &str) -> Result<Option<NodeStatus>> { unimplemented!() }
    async fn nodes(&self, _: NodeKind) -> Result<Vec<NodeStatus>> { unimplemented!() }
    async fn update_node(&self, _: NodeKind, _: &NodeStatus) -> Result<()> { unimplemented!() }
    async fn cluster_id(&self) -> Result<u64> { unimplemented!() }
    fn describe(&self) -> String { unimplemented!() }
}
