//! The kernel's random number generator: ChaCha20 (RFC 8439) keyed from the
//! VMM's boot entropy, with fast key erasure (the key is replaced from the
//! stream after every request, as Linux's `get_random_bytes` does).

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// One 64-byte ChaCha20 block.
pub fn chacha20_block(key: &[u8; 32], counter: u32, nonce: &[u8; 12]) -> [u8; 64] {
    let mut init = [0u32; 16];
    init[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for i in 0..8 {
        init[4 + i] = u32::from_le_bytes(key[4 * i..4 * i + 4].try_into().unwrap());
    }
    init[12] = counter;
    for i in 0..3 {
        init[13 + i] = u32::from_le_bytes(nonce[4 * i..4 * i + 4].try_into().unwrap());
    }
    let mut s = init;
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for i in 0..16 {
        out[4 * i..4 * i + 4].copy_from_slice(&s[i].wrapping_add(init[i]).to_le_bytes());
    }
    out
}

pub struct Rng {
    key: [u8; 32],
}

impl Rng {
    pub const fn new(seed: [u8; 32]) -> Self {
        Self { key: seed }
    }

    /// Fill `out` (Linux `_get_random_bytes` with `crng_fast_key_erasure`):
    /// block 0 under the current key gives the next key (its first 32
    /// bytes) and the first 32 bytes of output (its last 32), so a request
    /// of up to 32 bytes (execve's AT_RANDOM) costs one block; more comes
    /// from blocks 1, 2, ... under the key just erased.
    pub fn fill(&mut self, out: &mut [u8]) {
        let nonce = [0u8; 12];
        let key = self.key;
        let first = chacha20_block(&key, 0, &nonce);
        self.key.copy_from_slice(&first[..32]);
        let n = out.len().min(32);
        out[..n].copy_from_slice(&first[32..32 + n]);
        for (counter, chunk) in (1u32..).zip(out[n..].chunks_mut(64)) {
            let block = chacha20_block(&key, counter, &nonce);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

#[cfg(target_os = "none")]
mod kernel_rng {
    static RNG: spin::Mutex<super::Rng> = spin::Mutex::new(super::Rng::new([0; 32]));

    pub fn init(seed: [u8; 32]) {
        *RNG.lock() = super::Rng::new(seed);
    }

    pub fn get_random_bytes(out: &mut [u8]) {
        RNG.lock().fill(out);
    }
}

#[cfg(target_os = "none")]
pub use kernel_rng::{get_random_bytes, init};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8439_block_test_vector() {
        // RFC 8439 section 2.3.2.
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce = [0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let b = chacha20_block(&key, 1, &nonce);
        assert_eq!(&b[..8], &[0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15]);
        // State words e883d0cb 4e3c50a2, serialized little-endian.
        assert_eq!(&b[56..], &[0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e]);
    }

    /// The output is block 0's second half, then blocks 1.. under the same
    /// key; the next key is block 0's first half (Linux's layout).
    #[test]
    fn key_erasure_layout() {
        let key = [3u8; 32];
        let nonce = [0u8; 12];
        let b: Vec<[u8; 64]> = (0..3).map(|c| chacha20_block(&key, c, &nonce)).collect();
        let mut r = Rng::new(key);
        let mut out = [0u8; 16];
        r.fill(&mut out);
        assert_eq!(out[..], b[0][32..48]);
        assert_eq!(r.key[..], b[0][..32]);
        let mut r = Rng::new(key);
        let mut out = [0u8; 32 + 64 + 10];
        r.fill(&mut out);
        assert_eq!(out[..32], b[0][32..]);
        assert_eq!(out[32..96], b[1][..]);
        assert_eq!(out[96..], b[2][..10]);
        let mut empty = [0u8; 0];
        let before = r.key;
        r.fill(&mut empty);
        assert_ne!(r.key, before, "even an empty request rekeys");
    }

    #[test]
    fn outputs_differ_after_rekeying() {
        let mut r = Rng::new([7; 32]);
        let (mut a, mut b) = ([0u8; 100], [0u8; 100]);
        r.fill(&mut a);
        r.fill(&mut b);
        assert_ne!(a, b);
    }
}
