//! STUB (being written): the etcd TSO.
use crate::tso::Tso;
use crate::Result;
/// The etcd TSO.
pub struct EtcdTso;
impl EtcdTso {
    /// Opens it.
    pub async fn connect(_pd_urls: &[String]) -> Result<EtcdTso> { unimplemented!() }
}
#[async_trait::async_trait]
impl Tso for EtcdTso {
    async fn get_ts(&self) -> Result<u64> { unimplemented!() }
}
