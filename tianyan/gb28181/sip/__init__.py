"""SIP as GB/T 28181 uses it, sans-IO: messages, transactions, dialogs and digest authentication; no sockets."""
