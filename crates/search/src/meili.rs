//! placeholder
use crate::SearchError;
/// placeholder
pub struct MeiliSearch;
impl MeiliSearch {
    /// placeholder
    pub async fn open(
        _host: &str,
        _key: Option<&str>,
        _prefix: &str,
    ) -> Result<std::sync::Arc<crate::EmbeddedSearch>, SearchError> {
        Err(SearchError::Unavailable("x".into()))
    }
}
impl MeiliSearch {
    /// placeholder
    pub async fn delete_indexes(
        _host: &str,
        _key: Option<&str>,
        _prefix: &str,
    ) -> Result<(), SearchError> {
        Ok(())
    }
}
