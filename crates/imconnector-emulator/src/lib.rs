//! A fake Bitrix24 portal for testing Open Channels connectors.
#![deny(missing_docs)]
