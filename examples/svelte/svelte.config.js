// Svelte's compiler options (the defaults suit this example).
export default {};
