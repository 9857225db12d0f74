//! STUB (being written): the file TSO.
use crate::tso::Tso;
use crate::Result;
/// The file TSO.
pub struct FileTso;
impl FileTso {
    /// Opens it.
    pub fn open(_dir: &std::path::Path) -> Result<FileTso> { unimplemented!() }
}
#[async_trait::async_trait]
impl Tso for FileTso {
    async fn get_ts(&self) -> Result<u64> { unimplemented!() }
}
