//! Virtual memory areas.
