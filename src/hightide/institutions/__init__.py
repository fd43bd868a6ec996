"""One module per form of organisation: mutual-aid teams now; co-operatives, communes and state
farms with the institutions issue."""
