"""Neural-network building blocks shared by the studies: the training loop,
zuko flow constructors, model saving/loading."""
