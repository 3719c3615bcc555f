"""The language server (`ppdsl lsp`, the `lsp` extra): an adapter from
ppdsl.authoring.editor to the Language Server Protocol."""
