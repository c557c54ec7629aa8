#pragma once
// One visitor made of several lambdas, for std::visit over a variant.

namespace ttynet {

template <typename... Handlers>
struct Overloaded : Handlers... {
  using Handlers::operator()...;
};
template <typename... Handlers>
Overloaded(Handlers...) -> Overloaded<Handlers...>;

}  // namespace ttynet
