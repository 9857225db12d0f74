//! STUB (being written): the etcd registry.
use crate::registry::{NodeKind, NodeStatus, Registry};
use crate::Result;
/// The etcd registry.
pub struct EtcdRegistry;
impl EtcdRegistry {
    /// Opens it.
    pub async fn connect(_pd_urls: &[String]) -> Result<EtcdRegistry> { unimplemented!() }
}
#[async_trait::async_trait]
impl Registry for EtcdRegistry {
    async fn node(&self, _: NodeKind, _: &str) -> Result<Option<NodeStatus>> { unimplemented!() }
    async fn nodes(&self, _: NodeKind) -> Result<Vec<NodeStatus>> { unimplemented!() }
    async fn update_node(&self, _: NodeKind, _: &NodeStatus) -> Result<()> { unimplemented!() }
    async fn cluster_id(&self) -> Result<u64> { unimplemented!() }
    fn describe(&self) -> String { unimplemented!() }
}
