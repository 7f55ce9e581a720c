//! libotr-rs C ABI
