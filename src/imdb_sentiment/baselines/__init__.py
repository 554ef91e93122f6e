"""Reference models that put the conv-LSTM's figures in context; never promoted."""
