"""MANSCDP: the XML bodies of GB/T 28181 MESSAGE, NOTIFY and SUBSCRIBE requests, one module per CmdType."""
