//! `getrandom` flags (`include/uapi/linux/random.h`).

crate::constants! {
    /// Do not block (EAGAIN if the pool is not ready).
    GRND_NONBLOCK: u32 = 0x0001;
    /// Use the blocking pool (now the same pool).
    GRND_RANDOM: u32 = 0x0002;
    /// Do not wait for the pool to be ready.
    GRND_INSECURE: u32 = 0x0004;
}
