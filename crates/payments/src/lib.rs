//! The payments port.
