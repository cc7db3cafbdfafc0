//! Memory management: physical frames and the kernel heap.

pub mod frame;
pub mod vma;

#[cfg(target_os = "none")]
mod kernel_mm {
    use super::frame::{FrameAllocator, PAGE_SIZE};
    use crate::counters;
    use protocol::boot::BootInfo;

    static FRAMES: spin::Mutex<Option<FrameAllocator>> = spin::Mutex::new(None);

    /// Heap size for `memory_bytes` of RAM: 1/16 of it, between 1 and 64 MiB.
    pub fn heap_size_for(memory_bytes: u64) -> u64 {
        (memory_bytes / 16).clamp(1 << 20, 64 << 20) & !(PAGE_SIZE - 1)
    }

    /// Set up the frame allocator over the boot memory map and the kernel heap.
    /// O(number of memory-map entries): no loop over frames (RAM is zero already).
    pub fn init(info: &BootInfo) -> Result<(), &'static str> {
        let mut frames = FrameAllocator::new(info.regions());
        let heap_bytes = heap_size_for(info.memory_bytes);
        let heap = frames
            .alloc_contiguous(heap_bytes / PAGE_SIZE)
            .ok_or("not enough memory for the kernel heap")?;
        crate::arch::heap::init(heap, heap_bytes as usize);
        counters::global_set(counters::FRAMES_FREE, frames.free_frames());
        counters::global_set(counters::FRAMES_IN_USE, frames.in_use());
        *FRAMES.lock() = Some(frames);
        Ok(())
    }

    /// Allocate one physical frame.
    pub fn alloc_frame() -> Option<u64> {
        let mut guard = FRAMES.lock();
        let frames = guard.as_mut()?;
        let f = frames.alloc();
        counters::global_set(counters::FRAMES_FREE, frames.free_frames());
        counters::global_set(counters::FRAMES_IN_USE, frames.in_use());
        f
    }

    /// Return a frame from `alloc_frame`.
    pub fn free_frame(frame: u64) {
        let mut guard = FRAMES.lock();
        if let Some(frames) = guard.as_mut() {
            frames.free(frame);
            counters::global_set(counters::FRAMES_FREE, frames.free_frames());
            counters::global_set(counters::FRAMES_IN_USE, frames.in_use());
        }
    }
}

#[cfg(target_os = "none")]
pub use kernel_mm::{alloc_frame, free_frame, heap_size_for, init};
