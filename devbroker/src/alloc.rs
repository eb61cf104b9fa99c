//! A global allocator that keeps huge, never-touched reservations from aborting
//! the process.
//!
//! The `kafka-protocol` decoders size a `Vec` from the element count read off the
//! wire before decoding any element (`Vec::with_capacity(n)`). A malformed frame
//! of a few bytes can claim two billion elements; the allocation then exceeds
//! RAM, the kernel's overcommit heuristic refuses it, and Rust aborts the whole
//! broker (an allocation failure is not a panic). Decoding would fail a moment
//! later, when the elements run out.
//!
//! This allocator serves requests of [`HUGE`] bytes or more with an anonymous
//! `mmap(MAP_NORESERVE)`: address space only, no memory is committed until a page
//! is written. The decoder writes at most as many elements as the (size-limited)
//! frame holds, so memory use stays bounded by the frame, and the mapping is
//! released when the `Vec` is dropped. Everything smaller goes to the system
//! allocator unchanged.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations from this size on are lazy mappings.
pub const HUGE: usize = 1 << 30;

/// See the module docs. Install with `#[global_allocator]`.
pub struct LazyHugeAlloc;

const PAGE: usize = 4096;

fn is_huge(layout: &Layout) -> bool {
    layout.size() >= HUGE && layout.align() <= PAGE
}

// SAFETY: small layouts are forwarded to `System`; huge ones are page-aligned
// anonymous mappings of at least `layout.size()` bytes, unmapped with the same
// size on dealloc. A layout is huge or not by its size, so each block is freed
// by the allocator that made it.
unsafe impl GlobalAlloc for LazyHugeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            return map(layout.size());
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            // Fresh anonymous mappings are zero-filled.
            return map(layout.size());
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(&layout) {
            // SAFETY: `ptr` came from `map(layout.size())`.
            unsafe {
                libc::munmap(ptr.cast(), layout.size());
            }
            return;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if !is_huge(&layout) && !is_huge(&new_layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: allocate, copy the common prefix, free the old block.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping has no preconditions; failure is
    // reported as MAP_FAILED, which becomes a null pointer.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_huge_untouched_reservation_does_not_abort() {
        // ~300 GB of address space: far beyond RAM; only the first page is touched.
        let mut v: Vec<[u8; 150]> = Vec::with_capacity(i32::MAX as usize);
        v.push([1; 150]);
        assert_eq!(v[0][0], 1);
        v.shrink_to_fit();
        assert_eq!(v.len(), 1);
    }
}
