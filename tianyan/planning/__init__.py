"""Construction plans and progress against them."""
