//! The sharded adapter (`createShardedAdapter`): not written yet.

use std::sync::Arc;

use rtio::adapter::{Adapter, AdapterContext, LocalAdapter};

use super::hub::Hub;
use super::RedisAdapterOptions;

pub(crate) struct ShardedAdapter;

impl ShardedAdapter {
    pub(crate) fn create(
        ctx: AdapterContext,
        _hub: Arc<Hub>,
        _options: Arc<RedisAdapterOptions>,
    ) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter::new(&ctx))
    }
}
