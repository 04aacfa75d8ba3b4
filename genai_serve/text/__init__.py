"""Text models without torch or TorchServe: tokenizer, bigram, sampling, the LSTM generation loop, word vectors."""
