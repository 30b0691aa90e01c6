// exsweep test fixture: a script .NET puts in aspnet_client
function ValidatorOnLoad() {}
