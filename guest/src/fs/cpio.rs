//! cpio newc parser (see module docs once written).
