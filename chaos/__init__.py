"""`make chaos`: prove that nothing is lost while workers are killed and servers restart."""
