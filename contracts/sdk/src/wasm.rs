//! The wasm32 side of the ABI: host imports, the entry point body, a bump
//! allocator and the panic handler.
//!
//! # Invariants
//! - The node instantiates a policy afresh for every evaluation, so memory is never
//!   reused across evaluations and the allocator never needs to free.
//! - wasm32 without threads runs one thread, so the allocator's cells are never
//!   accessed concurrently.

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::fmt::{self, Write};

use crate::abi::{ABORT_MESSAGE_BYTES_MAX, Input, Output};

#[link(wasm_import_module = "vouch_v1")]
unsafe extern "C" {
    /// Returns the length of the encoded input in bytes.
    fn input_len() -> u32;
    /// Copies the encoded input to `destination`.
    fn input_read(destination: *mut u8);
    /// Hands the encoded output to the node; allowed once per evaluation.
    fn output_write(source: *const u8, length: u32);
    /// Ends the evaluation with `message` as the reason.
    fn abort(message: *const u8, length: u32) -> !;
}

/// Reads the input, runs `evaluate` and writes its output.
pub fn run(evaluate: fn(&Input<'_>) -> Output) {
    let bytes = read_input();
    let output = match Input::decode(&bytes) {
        Ok(input) => evaluate(&input),
        Err(error) => Output::quarantined(alloc::format!("the policy could not read its input: {error}")),
    };
    let encoded = output.encode();
    let length = u32::try_from(encoded.len()).expect("outputs are far below 4 GiB");
    // SAFETY: `encoded` is a live allocation of `length` bytes.
    unsafe { output_write(encoded.as_ptr(), length) };
}

fn read_input() -> Vec<u8> {
    // SAFETY: host functions of the `vouch_v1` module take no other arguments.
    let length = unsafe { input_len() } as usize;
    let mut bytes = Vec::with_capacity(length);
    // SAFETY: the host writes exactly `length` bytes, which the capacity holds.
    unsafe {
        input_read(bytes.as_mut_ptr());
        bytes.set_len(length);
    }
    bytes
}

const PAGE_BYTES: usize = 65_536;

unsafe extern "C" {
    /// The first address after the shadow stack and the static data, set by the linker.
    static __heap_base: u8;
}

/// Returns the first address that no static data or stack uses.
fn heap_base() -> usize {
    // SAFETY: only the symbol's address is taken; it is never read.
    unsafe { core::ptr::addr_of!(__heap_base) as usize }
}

/// A bump allocator over linear memory that grows by whole pages.
struct BumpAllocator {
    /// Next free address; 0 until the first allocation.
    next: Cell<usize>,
    /// End of linear memory.
    end: Cell<usize>,
}

// SAFETY: see the module's invariants (one thread).
unsafe impl Sync for BumpAllocator {}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator { next: Cell::new(0), end: Cell::new(0) };

impl BumpAllocator {
    /// Makes `[next, new_next)` usable, growing memory when needed.
    fn reserve(&self, new_next: usize) -> bool {
        if self.end.get() == 0 {
            // The free memory between the end of the data and the end of the initial
            // memory comes first, so that a small evaluation never grows memory: each
            // growth costs the node a change of page protection.
            self.next.set(heap_base());
            self.end.set(core::arch::wasm32::memory_size(0) * PAGE_BYTES);
        }
        if new_next <= self.end.get() {
            return true;
        }
        let pages = (new_next - self.end.get()).div_ceil(PAGE_BYTES);
        if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        self.end.set(self.end.get() + pages * PAGE_BYTES);
        true
    }

    fn start(&self, layout: Layout) -> Option<(usize, usize)> {
        let start = self.next.get().checked_next_multiple_of(layout.align())?;
        let new_next = start.checked_add(layout.size())?;
        Some((start, new_next))
    }
}

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // The first call sets `next`, so reserve before computing the start.
        if !self.reserve(self.next.get()) {
            return core::ptr::null_mut();
        }
        let Some((start, new_next)) = self.start(layout) else {
            return core::ptr::null_mut();
        };
        if !self.reserve(new_next) {
            return core::ptr::null_mut();
        }
        self.next.set(new_next);
        start as *mut u8
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // Only the most recent allocation can be given back.
        if pointer as usize + layout.size() == self.next.get() {
            self.next.set(pointer as usize);
        }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let address = pointer as usize;
        let is_last = address + layout.size() == self.next.get();
        if is_last && let Some(new_next) = address.checked_add(new_size) {
            if self.reserve(new_next) {
                self.next.set(new_next);
                return pointer;
            }
            return core::ptr::null_mut();
        }
        // SAFETY: the caller's contract for `realloc` carries over to `alloc`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new_pointer = unsafe { self.alloc(new_layout) };
        if !new_pointer.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(pointer, new_pointer, layout.size().min(new_size)) };
        }
        new_pointer
    }
}

/// A fixed buffer that keeps the first [`ABORT_MESSAGE_BYTES_MAX`] bytes written.
struct MessageBuffer {
    bytes: [u8; ABORT_MESSAGE_BYTES_MAX],
    length: usize,
}

impl Write for MessageBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = ABORT_MESSAGE_BYTES_MAX - self.length;
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.length..self.length + take].copy_from_slice(&text.as_bytes()[..take]);
        self.length += take;
        Ok(())
    }
}

/// Reports the panic message to the node, which quarantines the image with it.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut buffer = MessageBuffer { bytes: [0; ABORT_MESSAGE_BYTES_MAX], length: 0 };
    let _ = write!(buffer, "{}", info.message());
    // SAFETY: the buffer holds `length` initialized bytes; `abort` does not return.
    unsafe { abort(buffer.bytes.as_ptr(), buffer.length as u32) }
}
