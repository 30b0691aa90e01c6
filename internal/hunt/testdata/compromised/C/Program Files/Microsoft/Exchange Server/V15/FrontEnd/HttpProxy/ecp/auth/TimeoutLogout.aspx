<%@ Page language="c#" Inherits="Microsoft.Exchange.HttpProxy.TimeoutLogout" %>
<!-- exsweep test fixture -->
