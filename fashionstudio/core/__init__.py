"""Qt-free core of FashionStudio. Nothing in this package may import Qt (a test checks it)."""
