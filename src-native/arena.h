// Per-call storage: everything a C call points into lives here until the call object dies.
// A bump allocator with inline space, so most calls allocate nothing on the heap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace p11 {

// Zeroes memory in a way the optimizer may not drop (PIN copies).
inline void SecureZero(void* p, size_t n) {
  volatile uint8_t* v = static_cast<volatile uint8_t*>(p);
  while (n--) *v++ = 0;
}

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (auto& s : secrets_) SecureZero(s.first, s.second);
  }

  // Throws std::bad_alloc on failure; callers turn that into a RangeError.
  void* Alloc(size_t n, size_t align = alignof(std::max_align_t)) {
    if (n == 0) n = 1;
    size_t off = (used_ + align - 1) & ~(align - 1);
    if (off + n <= sizeof(inline_)) {
      used_ = off + n;
      return inline_ + off;
    }
    blocks_.emplace_back(new uint8_t[n + align]);
    uint8_t* raw = blocks_.back().get();
    uintptr_t a = (reinterpret_cast<uintptr_t>(raw) + align - 1) & ~(uintptr_t(align) - 1);
    return reinterpret_cast<void*>(a);
  }

  template <class T>
  T* New(size_t count = 1) {
    T* p = static_cast<T*>(Alloc(sizeof(T) * count, alignof(T)));
    for (size_t i = 0; i < count; i++) new (p + i) T();
    return p;
  }

  uint8_t* Copy(const void* src, size_t n, bool secret = false) {
    uint8_t* p = static_cast<uint8_t*>(Alloc(n));
    if (n) std::memcpy(p, src, n);
    if (secret) secrets_.emplace_back(p, n);
    return p;
  }

  // Memory that must be wiped when the call ends (PINs).
  void MarkSecret(void* p, size_t n) { secrets_.emplace_back(p, n); }

 private:
  alignas(std::max_align_t) uint8_t inline_[512];
  size_t used_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  std::vector<std::pair<void*, size_t>> secrets_;
};

}  // namespace p11
